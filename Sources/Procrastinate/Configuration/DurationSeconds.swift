extension Duration {
  /// The duration in seconds, with its fraction: what SQL intervals and epoch times take.
  package var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
