import Foundation
import Testing

@testable import Procrastinate

#if canImport(Glibc)
  import Glibc
#endif

/// A TCP port on 127.0.0.1 that completes the handshake (the kernel does) but never answers:
/// a server that stopped responding.
final class SilentListener {
  let port: Int
  private let descriptor: Int32

  /// With `listening: false` the port is only reserved: connections to it are refused.
  init(listening: Bool = true) throws {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.descriptor = descriptor
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0, !listening || listen(descriptor, 16) == 0 else {
      close(descriptor)
      throw TaskFailure(description: "could not listen on 127.0.0.1")
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    port = Int(UInt16(bigEndian: address.sin_port))
  }

  deinit { close(descriptor) }
}

@Suite("Connecting")
struct ConnectTimeoutTests {

  @Test(
    "connecting to a server that never answers gives up after connect_timeout, with a clear error")
  func silentServer() async throws {
    let listener = try SilentListener()
    let settings = try DatabaseSettings(
      conninfo: "postgresql://postgres@127.0.0.1:\(listener.port)/x?connect_timeout=2")
    let start = ContinuousClock.now
    let error = await #expect(throws: DatabaseError.self) {
      _ = try await PostgresConnection.connect(settings)
    }
    let elapsed = ContinuousClock.now - start
    // libpq's own clock says 2 s; the rest is this loaded machine scheduling the callback.
    #expect(elapsed >= .seconds(1) && elapsed < .seconds(30), "gave up after \(elapsed)")
    #expect("\(error.map { "\($0)" } ?? "")".contains("timeout"), "\(String(describing: error))")
  }
}

@Suite("Connection settings")
struct ConnectSettingsUnitTests {
  @Test(
    "a connect timeout and TCP keepalives apply unless the settings or PG* variables say otherwise")
  func defaults() throws {
    let settings = try DatabaseSettings(conninfo: "postgresql://u@db.example/app")
    let parameters = Dictionary(uniqueKeysWithValues: settings.connectParameters(environment: [:]))
    #expect(parameters["connect_timeout"] == "10")
    #expect(parameters["keepalives"] == "1")
    #expect(parameters["tcp_user_timeout"] == "30000")
    // The user's conninfo comes last, as dbname, so that libpq lets it override the defaults.
    #expect(settings.connectParameters(environment: [:]).last! == ("dbname", settings.conninfo))
    let fromVariable = settings.connectParameters(environment: ["PGCONNECT_TIMEOUT": "3"])
    #expect(!fromVariable.contains { $0.0 == "connect_timeout" })
    // A service file's values apply only where nothing else is set: then nothing is added.
    #expect(settings.connectParameters(environment: ["PGSERVICE": "jobs"]).count == 1)
    let service = try DatabaseSettings(conninfo: "service=jobs")
    #expect(service.connectParameters(environment: [:]).count == 1)
  }
}
