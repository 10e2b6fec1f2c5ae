import Arguments
import Foundation
import Pipeline

/// Requests written one a line, as `produce` reads them from a file or standard input:
/// `APP<TAB>PAYLOAD` or `APP,PAYLOAD` (the first tab, else the first comma, ends the app id), or
/// every line a payload of one app. Empty lines are skipped.
public enum RequestLines {
  /// The text of the file at `path`, or of standard input when `path` is nil.
  public static func read(path: String?) throws(UsageError) -> String {
    let handle: FileHandle
    if let path {
      guard let file = FileHandle(forReadingAtPath: path) else {
        throw UsageError("cannot read '\(path)'")
      }
      handle = file
    } else {
      handle = FileHandle.standardInput
    }
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
  }

  /// The requests of `text`, ids `<idPrefix>-<n>` from 0, each with the SLO `sloMs` gives its
  /// app (nil: no hb-slo-ms header); every line a payload of `app` when it is given. A line
  /// with no app is a usage error that names the line.
  public static func requests(
    _ text: String, app: String?, idPrefix: String, sloMs: (String) -> Double?
  ) throws(UsageError) -> [RequestRecord] {
    var requests: [RequestRecord] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated()
    {
      let request: (app: String, payload: Substring)
      if let app {
        request = (app, line)
      } else {
        guard let cut = line.firstIndex(of: "\t") ?? line.firstIndex(of: ","),
          cut > line.startIndex
        else {
          throw UsageError(
            "line \(number + 1): expected APP<TAB>PAYLOAD or APP,PAYLOAD (or give --app ID)")
        }
        request = (String(line[..<cut]), line[line.index(after: cut)...])
      }
      requests.append(
        RequestRecord(
          app: request.app, id: "\(idPrefix)-\(number)", sloMs: sloMs(request.app),
          payload: Array(request.payload.utf8)))
    }
    return requests
  }
}
