/// Events in time order (a binary min-heap); events at the same time come out in the order they
/// were scheduled.
struct EventQueue<Event> {
  private struct Entry {
    var time: Double
    var sequence: Int
    var event: Event

    func precedes(_ other: Entry) -> Bool {
      time < other.time || (time == other.time && sequence < other.sequence)
    }
  }

  private var heap: [Entry] = []
  private var sequence = 0

  var isEmpty: Bool { heap.isEmpty }

  mutating func schedule(_ event: Event, at time: Double) {
    sequence += 1
    heap.append(Entry(time: time, sequence: sequence, event: event))
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].precedes(heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  /// The earliest event and its time.
  mutating func next() -> (time: Double, event: Event)? {
    guard !heap.isEmpty else { return nil }
    heap.swapAt(0, heap.count - 1)
    let first = heap.removeLast()
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var smallest = parent
      if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
      if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
      guard smallest != parent else { break }
      heap.swapAt(parent, smallest)
      parent = smallest
    }
    return (first.time, first.event)
  }
}
