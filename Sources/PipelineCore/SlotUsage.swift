/// How a worker's slots were used over a report window (pure; times in seconds): slot-seconds
/// spent running batches, each started batch's wait for a free slot, batches and requests
/// finished. A batch that runs across a window boundary counts in each window for the part that
/// fell in it.
public struct SlotUsage: Sendable {
  public struct Window: Sendable, Equatable {
    public var start: Double
    public var end: Double
    /// Slot-seconds per second of the window (0…slots).
    public var busySlots: Double
    /// Waits for a free slot of the batches started in the window (seconds).
    public var queueWaits: [Double]
    public var batches: Int
    public var requests: Int
    /// Requests shed as late (`WorkerLatePolicy.shed`).
    public var shed: Int = 0
  }

  /// Slots now (a pool may grow or shrink).
  public var slots: Int
  private var windowStart: Double
  private var running: [Int: Double] = [:]
  private var busy = 0.0
  private var waits: [Double] = []
  private var batches = 0
  private var requests = 0
  private var shedRequests = 0

  public init(slots: Int, start: Double) {
    self.slots = slots
    windowStart = start
  }

  /// Batches running now.
  public var busyNow: Int { running.count }

  /// A slot started the batch `token` at `time`, after it waited `waited` for the slot.
  public mutating func started(_ token: Int, at time: Double, waited: Double) {
    running[token] = time
    waits.append(max(0, waited))
  }

  /// The batch `token` finished at `time`, with `requests` requests.
  public mutating func finished(_ token: Int, at time: Double, requests count: Int) {
    guard let start = running.removeValue(forKey: token) else { return }
    busy += max(0, time - max(start, windowStart))
    batches += 1
    requests += count
  }

  /// A slot shed `count` requests of the batch it took.
  public mutating func shed(_ count: Int) {
    shedRequests += max(0, count)
  }

  /// Ends the window at `now` and starts the next.
  public mutating func close(at now: Double) -> Window {
    var busyInWindow = busy
    for start in running.values { busyInWindow += max(0, now - max(start, windowStart)) }
    let length = max(now - windowStart, 1e-9)
    let window = Window(
      start: windowStart, end: now, busySlots: min(Double(slots), busyInWindow / length),
      queueWaits: waits, batches: batches, requests: requests, shed: shedRequests)
    windowStart = now
    shedRequests = 0
    busy = 0
    waits = []
    batches = 0
    requests = 0
    return window
  }
}
