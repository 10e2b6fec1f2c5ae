/// The requests a worker ended lately, by where the router wrote them (`hb.grouped`
/// topic/partition/offset) and their id — one request, however many batch records carry it; a
/// client that reuses an id sends another request, at another offset — so that a batch record
/// produced twice does not end its requests twice. Bounded: the oldest are forgotten first
/// (pure).
public struct RecentRequests: Sendable {
  public let capacity: Int
  private var members: Set<String> = []
  private var order: [String] = []
  private var head = 0

  public init(capacity: Int = 100_000) {
    self.capacity = max(1, capacity)
  }

  public var count: Int { members.count }

  /// Records `source` as ended here; false when it already was (the request must not run again).
  public mutating func claim(_ source: String) -> Bool {
    guard members.insert(source).inserted else { return false }
    order.append(source)
    if members.count > capacity {
      members.remove(order[head])
      head += 1
      if head > 4_096, head * 2 > order.count {
        order.removeFirst(head)
        head = 0
      }
    }
    return true
  }
}
