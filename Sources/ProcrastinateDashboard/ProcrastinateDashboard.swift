import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Procrastinate
import ProcrastinateMetrics
import ProcrastinateTraceData
import ServiceLifecycle

/// A web admin for a procrastinate queue, as Hummingbird 2 routes an app mounts under a
/// path, with each job's trace on its page and an OTLP/HTTP span receiver built in.
///
/// ```swift
/// let dashboard = ProcrastinateDashboard(app: app)
/// let router = Router()
/// router.addRoutes(dashboard, atPath: "/queue")
/// ```
///
/// Pages: `/` (queues, workers, periodic tasks), `/jobs` (filters, newest first, paginated
/// by keyset), `/jobs/{id}` (fields, events, actions, the trace's waterfall). The JSON API:
/// `GET /api/queues`, `GET /api/jobs/{id}` (with its `spans`) and
/// `POST /api/jobs/{id}/retry|cancel|abort`; `GET /metrics` with ``DashboardOptions/metrics``.
/// Spans arrive at `POST /v1/traces` (OTLP/HTTP,
/// protobuf or JSON, gzip or not), so `OTEL_EXPORTER_OTLP_ENDPOINT` can point at the
/// dashboard's root, or from a traces file (``traceFileFollower(path:logger:)``).
///
/// Actions are POST only and need the page's CSRF token (a form field `csrf` or an
/// `X-CSRF-Token` header; `GET /api/csrf-token` gives it to scripts); anything else gets
/// `403`. With ``DashboardOptions/credentials``, every request needs HTTP basic
/// authentication.
public final class ProcrastinateDashboard: Sendable {
  let app: ProcrastinateApp
  let options: DashboardOptions
  let spans: SpanStore
  let counts: QueueCountsCache
  /// Random per dashboard: pages carry it, actions must send it back.
  let csrfToken: String

  /// A dashboard of `app`'s queue; nothing is served until its routes are mounted with
  /// `addRoutes(_:atPath:)`.
  public init(app: ProcrastinateApp, options: DashboardOptions = DashboardOptions()) {
    self.app = app
    self.options = options
    self.spans = SpanStore(capacity: max(1, options.spanCapacity))
    self.counts = QueueCountsCache(app: app, maximumAge: options.countsMaximumAge.inSeconds)
    var generator = SystemRandomNumberGenerator()
    self.csrfToken = (0..<4).map { _ in String(generator.next(), radix: 16) }.joined()
  }

  /// A service that follows a file exporter's output (`PROCRASTINATE_TRACES_FILE`: OTLP/JSON
  /// lines) as it grows and keeps its spans, until the service group shuts down.
  public func traceFileFollower(path: String, logger: Logger) -> some Service {
    TraceFileFollower(path: path, store: spans, logger: logger)
  }

  /// The routes, rendering links under `prefix` ("" or "/queue").
  func routes<Context: RequestContext>(prefix: String, context: Context.Type) -> RouteCollection<
    Context
  > {
    let routes = RouteCollection(context: Context.self)
    routes.add(
      middleware: DashboardGate<Context>(
        credentials: options.credentials, acceptAnyHost: options.acceptAnyHost))
    routes.get("/assets/dashboard.css") { _, _ in
      Self.response(Assets.css, contentType: "text/css; charset=utf-8")
    }
    routes.get("/assets/dashboard.js") { _, _ in
      Self.response(Assets.javascript, contentType: "text/javascript; charset=utf-8")
    }
    routes.get("/") { _, _ in try await self.overview(prefix: prefix) }
    routes.get("/jobs") { request, _ in try await self.jobs(request, prefix: prefix) }
    routes.get("/jobs/:id") { request, context in
      try await self.job(id: try Self.jobID(context), request: request, prefix: prefix)
    }
    routes.post("/jobs/:id/:action") { request, context in
      let id = try Self.jobID(context)
      let action = try Self.action(context)
      try await self.requireToken(request)
      let done = try await self.perform(action, on: id)
      var headers = HTTPFields()
      headers[.location] = "\(prefix)/jobs/\(id)?done=\(done ? action.rawValue : "nothing")"
      return Response(status: .seeOther, headers: headers)
    }
    routes.get("/api/queues") { _, _ in try await self.queuesJSON() }
    routes.get("/api/csrf-token") { _, _ in Self.json(["csrfToken": self.csrfToken]) }
    routes.get("/api/jobs/:id") { _, context in try await self.jobJSON(id: try Self.jobID(context))
    }
    routes.post("/api/jobs/:id/:action") { request, context in
      let id = try Self.jobID(context)
      let action = try Self.action(context)
      try await self.requireToken(request)
      let done = try await self.perform(action, on: id)
      let status = try await self.app.store.job(id: id)?.status
      return Self.json(
        ["done": done, "action": action.rawValue, "status": status ?? NSNull()],
        status: done ? .ok : .conflict)
    }
    routes.post("/v1/traces") { request, _ in try await self.receive(request) }
    if let registry = options.metrics {
      routes.get("/metrics") { _, _ in
        Self.response(registry.emitToBuffer(), contentType: PrometheusMetrics.contentType)
      }
    }
    return routes
  }

  // MARK: Pages

  private func overview(prefix: String) async throws -> Response {
    async let queues = counts.counts()
    async let workers = app.store.workerHeartbeats()
    async let periodic = app.store.periodicTicks()
    async let stalled = app.stalledJobs(heartbeatTimeout: options.silentWorkerAfter)
    let page = OverviewPage(
      queues: try await queues.queues, countedAt: try await queues.takenAt,
      workers: try await workers, periodic: try await periodic,
      schedules: options.periodicTasks, stalled: try await stalled.count, spans: spans.counts,
      spanCapacity: spans.capacity, silentAfter: options.silentWorkerAfter.inSeconds,
      now: Date())
    return html(title: "Overview", prefix: prefix, current: "/", body: page.render(prefix: prefix))
  }

  private func jobs(_ request: Request, prefix: String) async throws -> Response {
    let filters: JobsPage.Filters
    do {
      filters = try JobsPage.Filters(query: FormData.parse(request.uri.query ?? ""))
    } catch {
      throw HTTPError(.badRequest, message: error.description)
    }
    let page: JobPage
    if filters.stalled {
      let stalled = try await app.stalledJobs(heartbeatTimeout: options.silentWorkerAfter)
      page = JobPage(jobs: stalled.reversed(), nextCursor: nil)
    } else {
      page = try await app.store.jobPage(
        filters.jobFilter, before: filters.before, limit: JobsPage.pageSize)
    }
    return html(
      title: "Jobs", prefix: prefix, current: "/jobs",
      body: JobsPage(filters: filters, page: page).render(prefix: prefix))
  }

  private func job(id: Int64, request: Request, prefix: String) async throws -> Response {
    guard let job = try await app.store.job(id: id) else {
      throw HTTPError(.notFound, message: "no job \(id)")
    }
    let events = try await app.store.events(jobID: id)
    let done = FormData.parse(request.uri.query ?? "")["done"]
    let flash = done.flatMap { done in
      done == "nothing"
        ? "Nothing done: the job's status does not allow it."
        : JobDetailPage.Action(rawValue: done).map { "Done: \($0.rawValue)." }
    }
    let page = JobDetailPage(
      job: job, events: events, trace: JobTrace.find(job: job, in: spans), flash: flash)
    return html(
      title: "Job \(id)", prefix: prefix, current: "/jobs",
      body: page.render(prefix: prefix, csrfToken: csrfToken))
  }

  private func html(title: String, prefix: String, current: String, body: String) -> Response {
    let page = HTML.page(
      title: title, prefix: prefix, current: current, csrfToken: csrfToken,
      refreshSeconds: options.refreshSeconds > 0 ? options.refreshSeconds : nil, body: body)
    return Self.response(page, contentType: "text/html; charset=utf-8")
  }

  // MARK: Actions

  private func perform(_ action: JobDetailPage.Action, on id: Int64) async throws -> Bool {
    guard try await app.store.job(id: id) != nil else {
      throw HTTPError(.notFound, message: "no job \(id)")
    }
    switch action {
    case .retry: return try await app.retryJob(id: id)
    case .cancel: return try await app.cancelJob(id: id)
    case .abort: return try await app.cancelJob(id: id, abort: true)
    }
  }

  /// The CSRF check: the token in an `X-CSRF-Token` header or a `csrf` form field, and no
  /// `Origin` other than the dashboard's own host.
  private func requireToken(_ request: Request) async throws {
    if let origin = request.headers[.origin] {
      guard let originURL = URL(string: origin), let originHost = originURL.host,
        Self.authority(host: originHost, port: originURL.port)
          == request.head.authority?.lowercased()
      else {
        throw HTTPError(.forbidden, message: "the request comes from another origin (\(origin))")
      }
    }
    var token = request.headers[DashboardHeaders.csrfToken]
    if token == nil,
      request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true
    {
      var request = request
      let body = try await request.collectBody(upTo: 64 * 1024)
      token = FormData.parse(String(buffer: body))["csrf"]
    }
    guard let token, Self.constantTimeEqual(token, csrfToken) else {
      throw HTTPError(
        .forbidden,
        message:
          "missing or wrong CSRF token: send the page's token as the csrf form field or the X-CSRF-Token header"
      )
    }
  }

  // MARK: JSON API

  private func queuesJSON() async throws -> Response {
    let snapshot = try await counts.counts()
    return Self.json([
      "queues": snapshot.queues.map {
        ["name": $0.name, "counts": $0.counts, "total": $0.total] as [String: Any]
      },
      "countedAt": snapshot.takenAt.timeIntervalSince1970,
    ])
  }

  private func jobJSON(id: Int64) async throws -> Response {
    guard let job = try await app.store.job(id: id) else {
      throw HTTPError(.notFound, message: "no job \(id)")
    }
    let events = try await app.store.events(jobID: id)
    let trace = JobTrace.find(job: job, in: spans)
    return Self.json([
      "job": DashboardJSON.job(job),
      "events": events.map {
        ["type": $0.type, "at": $0.at.timeIntervalSince1970] as [String: Any]
      },
      "traceIds": trace.traceIDs,
      "traceMissing": trace.missing ?? NSNull(),
      "spans": trace.spans.map(DashboardJSON.span),
    ])
  }

  // MARK: Span receiver

  private func receive(_ request: Request) async throws -> Response {
    var request = request
    let body = try await request.collectBody(upTo: options.maximumBodyBytes)
    var bytes = Array(body.readableBytesView)
    let contentType = request.headers[.contentType]?.lowercased() ?? ""
    do {
      switch request.headers[.contentEncoding]?.lowercased() {
      case nil, "identity": break
      case "gzip", "deflate":
        let (compressed, limit) = (bytes, options.maximumBodyBytes)
        bytes = try await OffPool.run { try Gzip.inflate(compressed, limit: limit) }
      case let other?:
        throw OTLPReceiverError("Content-Encoding \(other) is not supported (gzip or none)")
      }
      let received: [TraceSpan]
      if contentType.hasPrefix("application/x-protobuf")
        || contentType.hasPrefix("application/protobuf")
      {
        let body = bytes
        received = try await OffPool.run { try OTLPTraceDecoder.protobuf(body) }
        spans.insert(received)
        return Self.response([], contentType: "application/x-protobuf")
      } else if contentType.hasPrefix("application/json") {
        let body = bytes
        received = try await OffPool.run { try OTLPTraceDecoder.json(Data(body)) }
        spans.insert(received)
        return Self.response("{}", contentType: "application/json")
      }
      throw OTLPReceiverError(
        "Content-Type \(contentType.isEmpty ? "missing" : contentType): send application/x-protobuf or application/json"
      )
    } catch {
      spans.recordRejectedBody()
      throw HTTPError(.badRequest, message: "\(error)")
    }
  }

  // MARK: Helpers

  private static func jobID(_ context: some RequestContext) throws -> Int64 {
    let text = context.parameters.get("id") ?? ""
    guard let id = Int64(text) else {
      throw HTTPError(.badRequest, message: "job id '\(text)' is not a number")
    }
    return id
  }

  private static func action(_ context: some RequestContext) throws -> JobDetailPage.Action {
    let text = context.parameters.get("action") ?? ""
    guard let action = JobDetailPage.Action(rawValue: text) else {
      throw HTTPError(.notFound, message: "no action '\(text)': retry, cancel or abort")
    }
    return action
  }

  static func response(_ text: String, contentType: String, status: HTTPResponse.Status = .ok)
    -> Response
  {
    response(Array(text.utf8), contentType: contentType, status: status)
  }

  static func response(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok)
    -> Response
  {
    var headers = HTTPFields()
    headers[.contentType] = contentType
    return Response(
      status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
  }

  static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
    let data =
      (try? JSONSerialization.data(
        withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
      ?? Data("{}".utf8)
    return response(Array(data), contentType: "application/json", status: status)
  }

  /// `host[:port]` as a Host header writes it: lowercased, an IPv6 address in brackets.
  static func authority(host: String, port: Int?) -> String {
    let host = host.lowercased()
    let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    return bracketed + (port.map { ":\($0)" } ?? "")
  }

  static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let left = Array(lhs.utf8)
    let right = Array(rhs.utf8)
    guard left.count == right.count else { return false }
    return zip(left, right).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
  }
}

extension RouterMethods {
  /// Mounts `dashboard` at `path` ("" for the root, or e.g. "/queue").
  @discardableResult
  public func addRoutes(_ dashboard: ProcrastinateDashboard, atPath path: String = "") -> Self {
    var prefix = path.hasPrefix("/") || path.isEmpty ? path : "/" + path
    while prefix.hasSuffix("/") { prefix.removeLast() }
    return addRoutes(
      dashboard.routes(prefix: prefix, context: Context.self), atPath: RouterPath(prefix))
  }
}

/// A body the span receiver refuses: what is wrong with it.
struct OTLPReceiverError: ProcrastinateError, CustomStringConvertible {
  let description: String

  init(_ description: String) { self.description = description }
}
