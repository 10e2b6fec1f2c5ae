import Foundation
import TestSupport
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `simulate --closed-loop` planning ahead (issue 31): a shape over a compressed day, replicas
/// with a cold start, the forecast on and off side by side, and the files it writes.
@Suite(.startsServices) struct ClosedLoopCommandTests {
  @Test func bothRunsAreComparedAndTheirTimelinesAndChartWritten() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-closed-loop-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath,
      [
        "simulate", "--closed-loop", "--model", "VGG19", "--duration", "120", "--shape", "bursty",
        "--day-seconds", "600", "--replica-start-seconds", "10", "--pool", "cpu=8",
        "--forecast", "both", "--out", directory,
      ])
    #expect(status == 0, "\(stderr)")
    let text = stdout.joined(separator: "\n")
    #expect(text.contains("# forecast off") && text.contains("# forecast on"))
    #expect(text.contains("shape bursty (a day of 600 s), replicas serve 10 s after"))
    let table = try #require(text.components(separatedBy: "compared").last)
    #expect(table.contains("reactive") && table.contains("forecast"))
    #expect(table.contains("replica-s") && table.contains("in ramps"))
    for label in ["reactive", "forecast"] {
      let csv = try String(contentsOfFile: "\(directory)/timeline-\(label).csv", encoding: .utf8)
      let lines = csv.split(separator: "\n")
      #expect(lines.first?.hasPrefix("second,offered,planned,sized_for,forecast,cpu") == true)
      #expect(lines.count == 121)
    }
    let svg = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/closed-loop.svg"))
    let parser = XMLParser(data: svg)
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    let chart = String(decoding: svg, as: UTF8.self)
    for label in ["requests/s", "offered", "sized for, reactive", "cpu, forecast", "% within SLO"] {
      #expect(chart.contains(label), "\(label)")
    }
  }

  @Test func aForecastThatIsNeitherOnNorOffIsAUsageError() async throws {
    let (status, _, stderr) = try await runToCompletion(
      harmonybatchPath,
      ["simulate", "--closed-loop", "--model", "VGG19", "--forecast", "maybe"])
    #expect(status == 2)
    #expect(stderr.contains("forecast"))
  }
}
