/// Spans arranged as traces and trees: what the terminal tree (`traces show`), the HTML trace
/// file and the dashboard's waterfall draw, each in its own way.
///
/// Roots are the spans whose parent is not among the trace's (no parent, or one in another
/// service's file); children follow their parent in start order. Files from other tools may
/// repeat a span or make parents a cycle: a span is listed once, and spans no root reaches
/// are listed as roots, so nothing is left out.
public enum TraceTree {
  /// One span in its place.
  public struct Row: Sendable {
    /// The span.
    public var span: TraceSpan
    /// 0 for a root.
    public var depth: Int
    /// Whether no later sibling follows it.
    public var isLast: Bool
    /// For each level between the root and this row's parent, whether a later sibling of
    /// the ancestor at that level follows (a tree draws a line down there).
    public var continuing: [Bool]
    /// A root whose parent id names a span that is not in the trace.
    public var parentMissing: Bool
  }

  /// The spans of each trace (or only of `traceID`), the trace that started first first.
  public static func traces(_ spans: [TraceSpan], only traceID: String? = nil) -> [[TraceSpan]] {
    let selected = traceID.map { id in spans.filter { $0.traceID == id } } ?? spans
    var order: [String] = []
    var grouped: [String: [TraceSpan]] = [:]
    for span in selected {
      if grouped[span.traceID] == nil { order.append(span.traceID) }
      grouped[span.traceID, default: []].append(span)
    }
    let start = grouped.mapValues { $0.map(\.startNanoseconds).min() ?? 0 }
    return order.enumerated().sorted { first, second in
      let (a, b) = (start[first.element] ?? 0, start[second.element] ?? 0)
      return a != b ? a < b : first.offset < second.offset
    }.map { grouped[$0.element] ?? [] }
  }

  /// The spans of one trace, depth first from its roots, children in start order.
  public static func rows(_ trace: [TraceSpan]) -> [Row] {
    let ids = Set(trace.map(\.spanID))
    var children: [String: [TraceSpan]] = [:]
    for span in trace {
      if let parent = span.parentSpanID, ids.contains(parent) {
        children[parent, default: []].append(span)
      }
    }
    for (parent, list) in children {
      children[parent] = list.sorted { $0.startNanoseconds < $1.startNanoseconds }
    }
    let byStart = trace.sorted { $0.startNanoseconds < $1.startNanoseconds }
    var rows: [Row] = []
    var listed = Set<String>()
    // Depth first with an explicit stack: a parent chain as long as the trace must not
    // overflow the thread's stack.
    func visit(_ root: TraceSpan) {
      let missing = root.parentSpanID.map { !ids.contains($0) } ?? false
      var stack = [Row(span: root, depth: 0, isLast: true, continuing: [], parentMissing: missing)]
      while let row = stack.popLast() {
        guard listed.insert(row.span.spanID).inserted else { continue }
        rows.append(row)
        let next = children[row.span.spanID] ?? []
        let continuing = row.depth == 0 ? [] : row.continuing + [!row.isLast]
        for (index, child) in next.enumerated().reversed() {
          stack.append(
            Row(
              span: child, depth: row.depth + 1, isLast: index == next.count - 1,
              continuing: continuing, parentMissing: false))
        }
      }
    }
    for span in byStart where span.parentSpanID.map(ids.contains) != true { visit(span) }
    // Spans no root reaches (a parent cycle) still show, as roots.
    for span in byStart { visit(span) }
    return rows
  }
}
