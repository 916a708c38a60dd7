import Tracing

/// Who produced the spans: `service.name`, `telemetry.sdk.*` and any other resource attributes.
package struct TracingResource: Sendable {
  package var attributes: [(key: String, value: SpanAttribute)]

  package init(serviceName: String, attributes extra: [(key: String, value: SpanAttribute)] = []) {
    var attributes: [(key: String, value: SpanAttribute)] = [
      ("service.name", .string(serviceName)),
      ("telemetry.sdk.name", .string("swift-procrastinate")),
      ("telemetry.sdk.language", .string("swift")),
      ("telemetry.sdk.version", .string(TracingResource.sdkVersion)),
    ]
    for (key, value) in extra {
      if let index = attributes.firstIndex(where: { $0.key == key }) {
        attributes[index].value = value
      } else {
        attributes.append((key, value))
      }
    }
    self.attributes = attributes
  }

  package var serviceName: String {
    if case .string(let name) = attributes.first(where: { $0.key == "service.name" })?.value {
      return name
    }
    return "unknown_service"
  }

  package static let sdkVersion = "0.1.0"
}
