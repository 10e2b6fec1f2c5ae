/// Which reply topics exist, as a stage last looked (pure). A reply goes only to a topic the
/// cluster has: producing to any other name makes a broker that creates topics on first use
/// create it — one topic per name a tenant cares to invent. A name not known sends the stage to
/// look again, at most every `lookEvery` seconds; between looks it counts as missing.
public struct ReplyTopicCache: Sendable {
  public let lookEvery: Double
  private var known: Set<String> = []
  private var lookedAt = -Double.infinity

  public init(lookEvery: Double = 2) {
    self.lookEvery = lookEvery
  }

  public enum Answer: Sendable, Equatable {
    case exists, missing
    /// Not known, and the last look is old enough: look (`update`) and ask again.
    case lookAgain
  }

  public func answer(_ topic: String, now: Double) -> Answer {
    if known.contains(topic) { return .exists }
    return now - lookedAt >= lookEvery ? .lookAgain : .missing
  }

  /// What a look found: the cluster's topics now.
  public mutating func update(_ topics: some Sequence<String>, now: Double) {
    known = Set(topics)
    lookedAt = now
  }

  /// A failed look (the cluster did not answer): not again before `lookEvery`.
  public mutating func lookFailed(now: Double) {
    lookedAt = now
  }
}
