import CJemalloc

/// The memory allocator of the harmonybatch process: jemalloc, linked in place of glibc's malloc.
///
/// Why: librdkafka allocates every fetched message on its broker thread and the consumer frees it
/// on another; under glibc's malloc the two threads then contend for one arena's lock (a third of
/// the consumer thread's time went to futex waits and wakes in `bench kafka`). jemalloc returns
/// such frees through per-thread caches without that contention.
public enum Allocator {
  /// "jemalloc <version>", read from the allocator itself (which also proves it is linked).
  public static var description: String {
    var version: UnsafePointer<CChar>? = nil
    var size = MemoryLayout<UnsafePointer<CChar>?>.size
    guard mallctl("version", &version, &size, nil, 0) == 0, let version else {
      return "jemalloc (version unknown)"
    }
    return "jemalloc " + String(cString: version)
  }
}
