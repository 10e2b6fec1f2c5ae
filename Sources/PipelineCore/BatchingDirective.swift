/// What the batching core asks its shell to do.
public enum BatchingDirective<Item: Sendable>: Sendable {
  case dispatch(ReadyBatch<Item>)
  /// Divert a request that can no longer make its SLO; `lateBy` is how far past its SLO the
  /// predicted end would be (seconds).
  case divert(BufferedRequest<Item>, spec: GroupSpec, lateBy: Double)
}
