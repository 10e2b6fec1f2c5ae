/// Why a buffer was flushed.
public enum FlushReason: String, Sendable, Codable {
  /// It held a full batch.
  case full
  /// A request's personal deadline came.
  case deadline
  /// A request that can no longer make its SLO was forwarded at once (`--late-policy forward`).
  case late
  /// The batcher is stopping.
  case drain
  /// The next request would have made the batch's record larger than the broker takes.
  case size
  /// Requests of the same group and plan version arrived with a different configuration.
  case reconfigured
}

/// What to do with a request whose SLO can no longer be met.
public enum LatePolicy: String, Sendable, CaseIterable {
  /// Send it to the late topic with the reason, not to a worker.
  case divert
  /// Dispatch it at once anyway, marked late.
  case forward
}

/// The batching state machine (model reference §2): one buffer per group with capacity b and
/// per-app timeouts. A buffer is flushed when it holds b requests or when the earliest personal
/// deadline among its requests comes; after a flush it starts empty. Requests keep their arrival
/// order in a batch, so every app's requests stay first-in, first-out.
///
/// Pure: no clock and no I/O. The shell feeds arrivals and the time, executes the directives, and
/// sleeps until `nextDeadline`.
public struct GroupBuffers<Item: Sendable>: Sendable {
  struct Buffer: Sendable {
    var spec: GroupSpec
    var requests: [BufferedRequest<Item>] = []
    var earliestDeadline = Double.infinity
    var bytes = 0

    /// Adds a request; returns how many wait now and the earliest deadline among them.
    mutating func add(_ request: BufferedRequest<Item>, spec: GroupSpec) -> (Int, Double) {
      self.spec = spec
      requests.append(request)
      earliestDeadline = min(earliestDeadline, request.deadline)
      bytes += request.bytes
      return (requests.count, earliestDeadline)
    }
  }

  public let latePolicy: LatePolicy
  /// The most the requests of one batch may add up to (`BufferedRequest.bytes`): a buffer that a
  /// request would push past it is flushed first (`FlushReason.size`).
  public let maxBatchBytes: Int
  private var buffers: [GroupKey: Buffer] = [:]
  /// Requests in all buffers.
  public private(set) var count = 0
  /// The earliest deadline of all buffers (infinity: none), kept as buffers change: the batcher
  /// asks for it after every request, and with many groups a walk over them cost more than the
  /// request.
  private var earliest = Double.infinity

  public init(latePolicy: LatePolicy = .divert, maxBatchBytes: Int = .max) {
    self.latePolicy = latePolicy
    self.maxBatchBytes = maxBatchBytes
  }

  /// The earliest time a buffer must be flushed, or nil when all are empty.
  public var nextDeadline: Double? {
    earliest.isFinite ? earliest : nil
  }

  /// `earliest` again from every buffer (after one that held it went).
  private mutating func recomputeEarliest() {
    earliest = .infinity
    for buffer in buffers.values where buffer.earliestDeadline < earliest {
      earliest = buffer.earliestDeadline
    }
  }

  /// How many requests wait in the buffer of `key`.
  public func waiting(in key: GroupKey) -> Int { buffers[key]?.requests.count ?? 0 }

  /// A request arrives at time `now` for the group `spec` describes.
  public mutating func receive(
    _ request: BufferedRequest<Item>, in spec: GroupSpec, now: Double
  ) -> [BatchingDirective<Item>] {
    var directives: [BatchingDirective<Item>] = []
    if let existing = buffers[spec.key], existing.spec != spec, !existing.requests.isEmpty {
      directives += flush(spec.key, reason: .reconfigured, now: now)
    }
    if let existing = buffers[spec.key], !existing.requests.isEmpty,
      existing.bytes > maxBatchBytes - request.bytes
    {
      directives += flush(spec.key, reason: .size, now: now)
    }
    let lateBy = now + spec.latencyMax - request.sloDeadline
    if lateBy > 1e-9, latePolicy == .divert {
      directives.append(.divert(request, spec: spec, lateBy: lateBy))
      return directives
    }
    // Appended in place: a copy taken out of the dictionary and written back would copy the
    // whole buffer on every arrival.
    let (waiting, earliestDeadline) = buffers[spec.key, default: Buffer(spec: spec)].add(
      request, spec: spec)
    count += 1
    earliest = min(earliest, earliestDeadline)
    if lateBy > 1e-9 {
      directives += flush(spec.key, reason: .late, now: now)
    } else if waiting >= spec.capacity {
      directives += flush(spec.key, reason: .full, now: now)
    } else if earliestDeadline <= now {
      directives += flush(spec.key, reason: .deadline, now: now)
    }
    return directives
  }

  /// Time has come to `now`: flushes every buffer whose earliest deadline has passed.
  public mutating func advance(to now: Double) -> [BatchingDirective<Item>] {
    let due = buffers.filter { $0.value.earliestDeadline <= now }.map(\.key)
    return due.sorted(by: { buffers[$0]!.earliestDeadline < buffers[$1]!.earliestDeadline })
      .flatMap { flush($0, reason: .deadline, now: now) }
  }

  /// Flushes every buffer (the batcher is stopping).
  public mutating func drain(now: Double) -> [BatchingDirective<Item>] {
    buffers.keys.sorted(by: { $0.description < $1.description })
      .flatMap { flush($0, reason: .drain, now: now) }
  }

  /// Takes out every buffered request whose item matches (its source partition was revoked and
  /// will be read again by the new owner).
  public mutating func removeAll(where matches: (Item) -> Bool) -> [BufferedRequest<Item>] {
    var removed: [BufferedRequest<Item>] = []
    for key in Array(buffers.keys) {
      guard var buffer = buffers[key] else { continue }
      let kept = buffer.requests.filter { !matches($0.item) }
      guard kept.count != buffer.requests.count else { continue }
      removed += buffer.requests.filter { matches($0.item) }
      buffer.requests = kept
      buffer.earliestDeadline = kept.map(\.deadline).min() ?? .infinity
      buffer.bytes = kept.reduce(0) { $0 + $1.bytes }
      buffers[key] = kept.isEmpty ? nil : buffer
    }
    count -= removed.count
    recomputeEarliest()
    return removed
  }

  /// Sends the buffer's requests on: late ones diverted (or marked, when forwarding), the rest as
  /// one batch. The buffer starts empty.
  private mutating func flush(_ key: GroupKey, reason: FlushReason, now: Double)
    -> [BatchingDirective<Item>]
  {
    guard let buffer = buffers.removeValue(forKey: key) else { return [] }
    if buffer.earliestDeadline <= earliest { recomputeEarliest() }
    guard !buffer.requests.isEmpty else { return [] }
    count -= buffer.requests.count
    var directives: [BatchingDirective<Item>] = []
    var onTime: [BufferedRequest<Item>] = []
    var lateIDs = Set<String>()
    for request in buffer.requests {
      let lateBy = now + buffer.spec.latencyMax - request.sloDeadline
      if lateBy > 1e-9 {
        if latePolicy == .divert {
          directives.append(.divert(request, spec: buffer.spec, lateBy: lateBy))
          continue
        }
        lateIDs.insert(request.id)
      }
      onTime.append(request)
    }
    if !onTime.isEmpty {
      directives.insert(
        .dispatch(
          ReadyBatch(
            spec: buffer.spec, requests: onTime, reason: reason, flushedAt: now,
            dueAt: buffer.earliestDeadline, lateIDs: lateIDs)),
        at: 0)
    }
    return directives
  }
}
