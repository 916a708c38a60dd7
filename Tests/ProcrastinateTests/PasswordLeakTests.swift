import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

@Suite("Passwords never printed")
struct PasswordLeakTests {
  @Test(
    "the commands, given a password in the URL, in PGPASSWORD or in a conninfo string, right or wrong, print it nowhere"
  )
  func noLeak() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let secret = "s3cret-Pa55-\(UUID().uuidString.prefix(8))"
    try await server.createPasswordRole("app_user", password: secret, superuser: true)
    _ = try await server.createDatabase("leak")

    let base = "127.0.0.1:\(server.port)/leak"
    var outputs: [String] = []
    for password in [secret, secret + "-wrong"] {
      let forms: [(url: String, environment: [String: String])] = [
        ("postgresql://app_user:\(password)@\(base)", [:]),
        ("postgresql://app_user@\(base)", ["PGPASSWORD": password]),
        (
          "host=127.0.0.1 port=\(server.port) dbname=leak user=app_user password='\(password)'",
          [:]
        ),
      ]
      for form in forms {
        for command in [
          ["schema", "--apply"], ["queues"], ["jobs", "--json"], ["healthchecks"],
          ["defer", "leak.task", "{}"], ["stalled"],
        ] {
          let result = try await runProcessCapturing(
            TracesPingTests.binary, command + ["--database-url", form.url],
            environment: form.environment.merging(["PROCRASTINATE_LOG_LEVEL": "trace"]) { $1 },
            allowFailure: true)
          outputs.append(result.stdout + result.stderr)
          if password == secret {
            #expect(result.status == 0, "\(command): \(result.stdout)\(result.stderr)")
          } else {
            #expect(result.status != 0, "\(command) succeeded with a wrong password")
          }
        }
      }
    }
    let leaks = outputs.filter { $0.contains(secret) }
    #expect(leaks.isEmpty, "the password appears in: \(leaks.first ?? "")")
    #expect(!outputs.joined().contains("Pa55"))
  }
}
