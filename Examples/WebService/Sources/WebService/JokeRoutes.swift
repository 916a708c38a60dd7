import Foundation
import GuideTasks
import Hummingbird
import Procrastinate
import Tracing

/// `POST /jokes?category=dev` defers `traced_fetch_joke` inside the request's span;
/// `GET /jobs/{id}` tells how that job is doing.
struct JokeRoutes: Sendable {
  /// The categories of the Chuck Norris API (and of the local joke service).
  static let categories: Set<String> = [
    "animal", "career", "celebrity", "dev", "explicit", "fashion", "food", "history", "money",
    "movie", "music", "political", "religion", "science", "sport", "travel",
  ]

  let app: ProcrastinateApp

  struct Deferred: ResponseEncodable {
    var jobID: Int64
    /// The trace the request, the job and the job's calls share.
    var traceID: String?

    enum CodingKeys: String, CodingKey {
      case jobID = "job_id"
      case traceID = "trace_id"
    }
  }

  struct JobStatus: ResponseEncodable {
    var id: Int64
    var status: String
    var attempts: Int
  }

  func add(to router: Router<BasicRequestContext>) {
    router.post("/jokes") { request, context in try await deferJoke(request, context) }
    router.get("/jobs/{id}") { request, context in try await job(request, context) }
  }

  func deferJoke(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let category = request.uri.queryParameters["category"].map(String.init) ?? "dev"
    guard Self.categories.contains(category) else {
      return Self.badRequest(
        "unknown category '\(category.prefix(40))'; use one of \(Self.categories.sorted().joined(separator: ", "))"
      )
    }
    // The request's SERVER span is the current span: the defer span is its child, and the
    // job carries this trace's context in its `trace_context` argument.
    let id = try await TracedFetchJoke.defer(category: category, on: app)
    return try EditedResponse(
      status: .accepted, response: Deferred(jobID: id, traceID: W3CTrace.traceID())
    ).response(from: request, context: context)
  }

  func job(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let text = context.parameters.get("id") ?? ""
    guard let id = Int64(text), id > 0 else {
      return Self.badRequest("job id '\(text.prefix(40))' is not a positive integer")
    }
    guard let job = try await app.jobs(JobFilter(id: id, limit: 1)).first else {
      return Self.plainText(.notFound, "no job \(id)")
    }
    return try JobStatus(id: job.id, status: job.status, attempts: job.attempts)
      .response(from: request, context: context)
  }

  static func badRequest(_ reason: String) -> Response { plainText(.badRequest, reason) }

  static func plainText(_ status: HTTPResponse.Status, _ line: String) -> Response {
    Response(
      status: status, headers: [.contentType: "text/plain; charset=utf-8"],
      body: ResponseBody(byteBuffer: ByteBuffer(string: line + "\n")))
  }
}
