#if canImport(Glibc)
  import Glibc
#endif

/// The calling thread's name as the kernel knows it (what `perf`, `top -H` and `/proc` show).
/// Foundation on Linux keeps `Thread.name` to itself, so a thread it starts carries its creator's
/// name: a service's threads and librdkafka's pollers would all look alike in a profile.
public enum KernelThreadName {
  /// Names the calling thread (its first 15 bytes, the kernel's limit). Best effort: does
  /// nothing where `/proc/thread-self/comm` cannot be written.
  public static func set(_ name: String) {
    #if canImport(Glibc)
      let descriptor = open("/proc/thread-self/comm", O_WRONLY)
      guard descriptor >= 0 else { return }
      defer { close(descriptor) }
      let bytes = Array(name.utf8.prefix(15))
      _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    #endif
  }
}
