import ProcrastinateConventions

/// The root of every error this package throws, from the queue and the worker to the
/// generator, the tracing runtime and the dashboard; each type keeps its specific message.
/// Catch `any ProcrastinateError` to tell this package's errors from others.
public typealias ProcrastinateError = ProcrastinateConventions.ProcrastinateError
