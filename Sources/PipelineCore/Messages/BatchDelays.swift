/// Where a batch's time went after its flush (seconds).
public struct BatchDelays: Sendable, Equatable {
  /// Flush → the worker read the batch, plus finished → results handed to the producer.
  public var transport: Double
  /// Read → a slot started it (waiting for a free slot).
  public var queueing: Double
  /// What the function took.
  public var inference: Double

  public init(transport: Double, queueing: Double, inference: Double) {
    self.transport = transport
    self.queueing = queueing
    self.inference = inference
  }
}
