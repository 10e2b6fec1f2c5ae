import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The time on a log line: UTC, ISO 8601, milliseconds (`2026-11-30T14:05:09.123Z`).
public enum LogTime {
  /// Now.
  public static func now() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return format(seconds: now.tv_sec, milliseconds: Int(now.tv_nsec / 1_000_000))
  }

  public static func format(seconds: Int, milliseconds: Int) -> String {
    var time = tm()
    var seconds = seconds
    gmtime_r(&seconds, &time)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(time.tm_year) + 1900,
      Int(time.tm_mon) + 1, Int(time.tm_mday), Int(time.tm_hour), Int(time.tm_min),
      Int(time.tm_sec), milliseconds)
  }
}
