#if canImport(Glibc)
  import Glibc
#endif

/// The listening socket of ``PrometheusEndpoint`` and its HTTP exchange, on blocking POSIX
/// calls that run on a thread of their own. Its descriptors close when it is freed, so a
/// late ``stop()`` never writes to a descriptor reused by someone else.
final class MetricsListener: Sendable {
  private let socket: Int32
  private let wakeRead: Int32
  private let wakeWrite: Int32
  /// The bound port.
  let port: Int

  /// How long a client may take to send its request head, or to read the answer.
  static let clientTimeoutSeconds = 5
  /// The longest request head read.
  static let maximumHead = 8192

  init(host: String, port: Int) throws {
    guard (0...65_535).contains(port) else {
      throw MetricsBootstrapError("metrics port \(port) is out of range (0 to 65535)")
    }
    let address = try Self.address(host, port: port)
    let fd = Glibc.socket(
      address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw MetricsBootstrapError("metrics: socket(): \(Self.errorText())") }
    var yes: Int32 = 1
    _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    // Non-blocking, so that a client gone between poll and accept never blocks the loop
    // (accepted sockets are blocking again: they do not inherit the flag on Linux).
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var storage = address.storage
    let bound = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      let reason = Self.errorText()
      close(fd)
      throw MetricsBootstrapError("metrics: cannot listen on \(host):\(port): \(reason)")
    }
    var pipeFDs: [Int32] = [-1, -1]
    guard pipe(&pipeFDs) == 0 else {
      let reason = Self.errorText()
      close(fd)
      throw MetricsBootstrapError("metrics: cannot create a wake pipe: \(reason)")
    }
    for pipeFD in pipeFDs { _ = fcntl(pipeFD, F_SETFD, FD_CLOEXEC) }
    self.socket = fd
    self.wakeRead = pipeFDs[0]
    self.wakeWrite = pipeFDs[1]
    self.port = Self.boundPort(fd) ?? port
  }

  deinit {
    close(socket)
    close(wakeRead)
    close(wakeWrite)
  }

  /// Ends ``serve(_:)`` (after the exchange in progress, if any).
  func stop() {
    var byte: UInt8 = 1
    _ = write(wakeWrite, &byte, 1)
  }

  /// Accepts and answers connections one by one until ``stop()``; `body` gives the metrics.
  func serve(_ body: () -> [UInt8]) {
    while true {
      var descriptors = [
        pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
        pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
      ]
      let ready = poll(&descriptors, 2, -1)
      if ready < 0 && errno == EINTR { continue }
      if ready < 0 || descriptors[1].revents != 0 { return }
      guard descriptors[0].revents & Int16(POLLIN) != 0 else { continue }
      let client = accept(socket, nil, nil)
      guard client >= 0 else { continue }
      _ = fcntl(client, F_SETFD, FD_CLOEXEC)
      answer(client, body)
      close(client)
    }
  }

  private func answer(_ client: Int32, _ body: () -> [UInt8]) {
    var timeout = timeval(tv_sec: Self.clientTimeoutSeconds, tv_usec: 0)
    let size = socklen_t(MemoryLayout<timeval>.size)
    _ = setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
    _ = setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
    guard let head = readHead(client) else {
      send(client, MetricsHTTP.response(status: "400 Bad Request", body: "bad request\n"))
      return
    }
    send(client, MetricsHTTP.answer(head: head, metrics: body))
  }

  /// The request head, up to its blank line; nil if the client sent none in time or sent
  /// more than ``maximumHead`` bytes before it.
  private func readHead(_ client: Int32) -> String? {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 2048)
    while received.count < Self.maximumHead {
      let count = recv(client, &buffer, buffer.count, 0)
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else { return nil }
      received += buffer[0..<count]
      if let end = MetricsHTTP.endOfHead(received) {
        return String(decoding: received[0..<end], as: UTF8.self)
      }
    }
    return nil
  }

  private func send(_ client: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let sent = bytes[offset...].withUnsafeBytes {
        Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
      }
      if sent < 0 && errno == EINTR { continue }
      guard sent > 0 else { return }
      offset += sent
    }
  }

  private static func errorText() -> String { String(cString: strerror(errno)) }

  private static func address(_ host: String, port: Int) throws -> (
    storage: sockaddr_storage, length: socklen_t, family: Int32
  ) {
    let literal = host == "localhost" ? "127.0.0.1" : host
    var ipv4 = sockaddr_in()
    if inet_pton(AF_INET, literal, &ipv4.sin_addr) == 1 {
      ipv4.sin_family = sa_family_t(AF_INET)
      ipv4.sin_port = in_port_t(UInt16(port).bigEndian)
      return stored(ipv4, family: AF_INET)
    }
    var ipv6 = sockaddr_in6()
    if inet_pton(AF_INET6, literal, &ipv6.sin6_addr) == 1 {
      ipv6.sin6_family = sa_family_t(AF_INET6)
      ipv6.sin6_port = in_port_t(UInt16(port).bigEndian)
      return stored(ipv6, family: AF_INET6)
    }
    throw MetricsBootstrapError(
      "metrics host '\(host)' is not an IP address: write one, e.g. 127.0.0.1 (the default) or 0.0.0.0"
    )
  }

  /// `address` (a `sockaddr_in` or `sockaddr_in6`) in a `sockaddr_storage`, with its length.
  private static func stored<Address>(_ address: Address, family: Int32) -> (
    storage: sockaddr_storage, length: socklen_t, family: Int32
  ) {
    var storage = sockaddr_storage()
    withUnsafeMutableBytes(of: &storage) { target in
      withUnsafeBytes(of: address) { target.copyMemory(from: $0) }
    }
    return (storage, socklen_t(MemoryLayout<Address>.size), family)
  }

  private static func boundPort(_ fd: Int32) -> Int? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let named = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { return nil }
    return withUnsafeBytes(of: storage) { raw in
      // sin_port and sin6_port sit at the same offset, in network byte order.
      let port = raw.load(fromByteOffset: 2, as: UInt16.self)
      return Int(UInt16(bigEndian: port))
    }
  }
}
