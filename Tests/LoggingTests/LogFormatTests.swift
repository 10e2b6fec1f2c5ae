import Foundation
import Logging
import Testing

/// One line per event, with its time, level, component and message; in JSON, one object a line
/// whatever the message holds.
@Suite struct LogFormatTests {
  @Test func aTextLineReadsTimeLevelComponentMessage() {
    let line = LogFormat.text.line(
      time: "2026-11-30T14:05:09.123Z", level: "info", component: "batcher",
      message: "plan v3 applied")
    #expect(line == "2026-11-30T14:05:09.123Z info batcher: plan v3 applied")
    let kafka = LogFormat.text.line(
      time: "t", level: "warning", component: "kafka", message: "down",
      fields: ["facility": "FAIL"])
    #expect(kafka == "t warning kafka: [FAIL] down")
  }

  @Test func aJSONLineIsOneObjectWhateverTheMessageHolds() throws {
    let message = "quote \" backslash \\ newline \n tab \t bell \u{7} ünïcødé 日本"
    let line = LogFormat.json.line(
      time: "2026-11-30T14:05:09.123Z", level: "error", component: "wor\"ker",
      message: message, fields: ["facility": "RE\nQ"])
    #expect(!line.contains("\n"))
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
    #expect(
      object == [
        "time": "2026-11-30T14:05:09.123Z", "level": "error", "component": "wor\"ker",
        "facility": "RE\nQ", "message": message,
      ])
  }

  @Test func timesAreUTCInISO8601WithMilliseconds() {
    #expect(LogTime.format(seconds: 0, milliseconds: 7) == "1970-01-01T00:00:00.007Z")
    #expect(LogTime.format(seconds: 1_795_000_000, milliseconds: 999) == "2026-11-18T11:06:40.999Z")
    let now = LogTime.now()
    #expect(now.count == 24)
    #expect(now.hasSuffix("Z"))
  }

  @Test func levelsHaveNamesBothWays() {
    for level in LogLevel.allCases { #expect(LogLevel(name: level.name) == level) }
    #expect(LogLevel(name: "loud") == nil)
    #expect(LogLevel.error < LogLevel.debug)
  }
}
