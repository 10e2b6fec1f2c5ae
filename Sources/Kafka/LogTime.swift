import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Log lines start with the UTC time (`2026-11-30T14:05:09.123Z `) when the environment sets
/// `HARMONYBATCH_LOG_TIME` (to anything): for logs that no journal or collector stamps.
public enum LogTime {
  public static let enabled = ProcessInfo.processInfo.environment["HARMONYBATCH_LOG_TIME"] != nil

  /// The prefix for a line written now ("" when not enabled).
  public static func prefix() -> String {
    guard enabled else { return "" }
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var time = tm()
    var seconds = now.tv_sec
    gmtime_r(&seconds, &time)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", Int(time.tm_year) + 1900,
      Int(time.tm_mon) + 1, Int(time.tm_mday), Int(time.tm_hour), Int(time.tm_min),
      Int(time.tm_sec), Int(now.tv_nsec / 1_000_000))
  }
}
