import Foundation

/// The calling thread's name as `ps -L` and a debugger show it (15 bytes at most on Linux).
/// Foundation's `Thread.name` cannot be trusted for this on Linux: set before `start` it is not
/// applied, and set from inside a new thread it is dropped when the thread runs before its
/// creator has recorded it.
enum ThreadName {
  static var current: String {
    #if os(Linux)
      let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
      return comm?.trimmingCharacters(in: .newlines) ?? ""
    #else
      return Thread.current.name ?? ""
    #endif
  }

  static func set(_ name: String) {
    let name = String(decoding: name.utf8.prefix(15), as: UTF8.self)
    #if os(Linux)
      try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
    #else
      Thread.current.name = name
    #endif
  }
}
