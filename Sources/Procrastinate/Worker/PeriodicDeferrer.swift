import Foundation

extension Worker {
  /// Every worker defers the ticks of the registry's periodic tasks, as Python does: each
  /// time it wakes, only the latest past tick of each task, if it is newer than the last
  /// one handled and at most `periodicMaxDelay` old (missed ticks are not caught up: an
  /// older tick would slip past the deduplication, which keeps only the newest row); it
  /// then sleeps until the next tick plus 0.5 s. A tick that failed is tried again.
  func periodicDeferrerLoop(_ periodic: [PeriodicTask]) async {
    var last = [Date?](repeating: nil, count: periodic.count)
    let maxDelay = options.periodicMaxDelay.inSeconds
    func deferLatest(_ index: Int, now: Date) async {
      guard let tick = periodic[index].schedule.previous(atOrBefore: now),
        last[index].map({ tick > $0 }) ?? true
      else { return }
      guard now.timeIntervalSince(tick) <= maxDelay else {
        last[index] = tick
        return
      }
      do {
        if let id = try await app.deferPeriodic(periodic[index], tick: tick) {
          app.logger.info(
            "periodic \(periodic[index].task.name) (\(periodic[index].cron)): deferred job \(id) for \(tick.ISO8601Format())"
          )
        }
        last[index] = tick  // deferred here, or already by another worker
      } catch is CancellationError {
        return  // the worker is stopping
      } catch {
        app.logger.warning(
          "periodic \(periodic[index].task.name): could not defer the tick \(tick.ISO8601Format()): \(error)"
        )
      }
    }
    while !Task.isCancelled {
      let now = Date()
      for index in periodic.indices { await deferLatest(index, now: now) }
      let upcoming = periodic.indices.compactMap { periodic[$0].schedule.next(after: now) }
      guard let wake = upcoming.min() else { return }
      // At least 0.5 s, at most a minute between looks (a failed tick is retried then).
      let delay = min(60, max(0, wake.timeIntervalSince(Date())) + 0.5)
      do {
        try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
      } catch {
        return
      }
    }
  }
}
