/// A request waiting in a batch buffer. Times are seconds on the batcher's clock (epoch-based).
public struct BufferedRequest<Item: Sendable>: Sendable {
  public var id: String
  public var app: String
  public var arrival: Double
  public var slo: Double
  /// How long the request may wait for its batch to fill.
  public var timeout: Double
  /// Whatever the shell needs to send the request on (payload, source offset, …).
  public var item: Item
  /// What it adds to its batch's record (0: not counted).
  public var bytes: Int

  public init(
    id: String, app: String, arrival: Double, slo: Double, timeout: Double, item: Item,
    bytes: Int = 0
  ) {
    self.id = id
    self.app = app
    self.arrival = arrival
    self.slo = slo
    self.timeout = timeout
    self.item = item
    self.bytes = bytes
  }

  /// The latest flush time the plan allows this request.
  public var deadline: Double { arrival + timeout }
  /// When its SLO runs out.
  public var sloDeadline: Double { arrival + slo }
}
