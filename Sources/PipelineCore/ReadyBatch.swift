/// A batch ready to dispatch.
public struct ReadyBatch<Item: Sendable>: Sendable {
  public var spec: GroupSpec
  public var requests: [BufferedRequest<Item>]
  public var reason: FlushReason
  public var flushedAt: Double
  /// The earliest personal deadline in the buffer when it was flushed.
  public var dueAt: Double
  /// Ids of requests that are dispatched although their SLO cannot be met (policy `forward`).
  public var lateIDs: Set<String>
}
