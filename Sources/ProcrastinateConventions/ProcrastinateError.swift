/// The root of every error this package throws: the queue's and the worker's, the
/// generator's spec diagnostics, the tracing runtime's, the dashboard's and the test
/// support's.
///
/// Each conforming type keeps its own specific message (its `description` says what was
/// wrong and where); the root lets a caller tell this package's errors from others:
///
/// ```swift
/// do {
///   try await app.defer(request)
/// } catch let error as any ProcrastinateError {
///   logger.error("queue: \(error)")
/// }
/// ```
///
/// The types, by what failed: `DeferError`, `AlreadyEnqueuedError`, `JobArgumentsError`
/// (deferring); `TaskArgumentsError` (a job's arguments when it runs); `TaskRegistryError`,
/// `CronError`, `ConfigurationError` (setting up an app, a registry or a worker);
/// `DatabaseError`, `IncompleteSchemaError` (the database); `Diagnostic`, `SpecErrors`,
/// `GeneratorError` (specs and generation); `TraceFileError` (reading traces);
/// `DashboardConfigurationError`; `EmbeddedPostgresError` (test support).
public protocol ProcrastinateError: Error, CustomStringConvertible {}
