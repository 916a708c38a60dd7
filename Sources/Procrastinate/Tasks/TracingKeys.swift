import ProcrastinateConventions

/// Span names and attribute keys, in one place (design §5). They live with the other
/// conventions shared by the queue, the tracer and the generator; this name keeps them at
/// hand for code that imports `Procrastinate`.
public typealias TracingKeys = ProcrastinateConventions.TracingKeys
