import Foundation

/// Small hand-written SVG charts for simulation results: bars (one value per label) and lines
/// (one series per label over minutes).
public enum SVGChart {
  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

  public static func bars(title: String, unit: String, values: [(String, Double)]) -> String {
    let width = 640.0
    let height = 360.0
    let left = 90.0
    let bottom = 50.0
    let top = 40.0
    let peak = max(values.map(\.1).max() ?? 1, 1e-30)
    let slot = (width - left - 20) / Double(max(values.count, 1))
    var svg = header(width: width, height: height, title: title)
    svg += axis(left: left, top: top, bottom: height - bottom, right: width - 20)
    for (index, (label, value)) in values.enumerated() {
      let barHeight = (height - bottom - top) * value / peak
      let x = left + Double(index) * slot + slot * 0.15
      svg += String(
        format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>\n", x,
        height - bottom - barHeight, slot * 0.7, barHeight, palette[index % palette.count])
      svg += text(x + slot * 0.35, height - bottom + 18, escape(label), anchor: "middle")
      svg += text(
        x + slot * 0.35, height - bottom - barHeight - 6, String(format: "%.3g", value),
        anchor: "middle")
    }
    svg += text(14, top - 10, escape(unit), anchor: "start")
    return svg + "</svg>\n"
  }

  public static func lines(title: String, unit: String, series: [(String, [Double])]) -> String {
    let width = 720.0
    let height = 380.0
    let left = 90.0
    let bottom = 50.0
    let top = 40.0
    let right = 150.0
    let count = series.map(\.1.count).max() ?? 0
    let peak = max(series.flatMap(\.1).max() ?? 1, 1e-30)
    var svg = header(width: width, height: height, title: title)
    svg += axis(left: left, top: top, bottom: height - bottom, right: width - right)
    for (index, (label, values)) in series.enumerated() {
      let points = values.enumerated().map { minute, value in
        String(
          format: "%.1f,%.1f",
          left + (width - right - left) * Double(minute) / Double(max(count - 1, 1)),
          height - bottom - (height - bottom - top) * value / peak)
      }.joined(separator: " ")
      let color = palette[index % palette.count]
      svg +=
        "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
      svg += text(
        width - right + 10, top + 18 * Double(index + 1), escape(label), anchor: "start",
        color: color)
    }
    svg += text((left + width - right) / 2, height - 12, "minute", anchor: "middle")
    svg += text(14, top - 10, escape(unit), anchor: "start")
    return svg + "</svg>\n"
  }

  /// A panel of `stacked`: its unit, its series (one value per time), and its axis's range (nil:
  /// from 0 to the highest value).
  public struct Panel: Sendable {
    public var unit: String
    public var series: [(label: String, values: [Double])]
    public var range: ClosedRange<Double>?

    public init(
      unit: String, series: [(label: String, values: [Double])], range: ClosedRange<Double>? = nil
    ) {
      self.unit = unit
      self.series = series
      self.range = range
    }
  }

  /// Panels one above another over the same `times` (seconds), each with its own axis, its range
  /// written at its ends, and the spans `shaded` (seconds) marked behind every panel.
  public static func stacked(
    title: String, times: [Double], panels: [Panel], shaded: [(from: Double, to: Double)] = []
  ) -> String {
    // The frame: the plots between `left` and `width - right`, panels of `panelHeight` from `top`.
    let (width, left, right) = (760.0, 70.0, 190.0)
    let (top, panelHeight, gap) = (46.0, 150.0, 34.0)
    let height = top + Double(panels.count) * (panelHeight + gap) + 12
    let first = times.first ?? 0
    let span = max((times.last ?? 1) - first, 1e-9)
    func x(_ time: Double) -> Double { left + (width - right - left) * (time - first) / span }
    var svg = header(width: width, height: height, title: title)
    for (index, panel) in panels.enumerated() {
      let upper = top + Double(index) * (panelHeight + gap)
      let lower = upper + panelHeight
      let range =
        panel.range ?? 0...max(panel.series.flatMap(\.values).filter(\.isFinite).max() ?? 1, 1e-9)
      for (from, to) in shaded where to > first && from < first + span {
        svg += String(
          format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#eeeeee\"/>\n",
          x(max(from, first)), upper, x(min(to, first + span)) - x(max(from, first)), panelHeight)
      }
      svg += axis(left: left, top: upper, bottom: lower, right: width - right)
      svg += text(left - 6, upper + 4, String(format: "%.4g", range.upperBound), anchor: "end")
      svg += text(left - 6, lower, String(format: "%.4g", range.lowerBound), anchor: "end")
      svg += text(left, upper - 8, escape(panel.unit), anchor: "start")
      let scale = max(range.upperBound - range.lowerBound, 1e-12)
      for (number, series) in panel.series.enumerated() {
        let points = zip(times, series.values).filter { $0.1.isFinite }.map { time, value in
          let clamped = min(max(value, range.lowerBound), range.upperBound)
          return String(
            format: "%.1f,%.1f", x(time), lower - panelHeight * (clamped - range.lowerBound) / scale
          )
        }.joined(separator: " ")
        let color = palette[number % palette.count]
        svg +=
          "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.2\" points=\"\(points)\"/>\n"
        svg += text(
          width - right + 10, upper + 16 * Double(number + 1), escape(series.label),
          anchor: "start", color: color)
      }
    }
    let bottom = top + Double(panels.count) * (panelHeight + gap) - gap
    svg += text(left, bottom + 16, String(format: "%.0f", first), anchor: "middle")
    svg += text(width - right, bottom + 16, String(format: "%.0f", first + span), anchor: "middle")
    svg += text((left + width - right) / 2, bottom + 16, "seconds", anchor: "middle")
    return svg + "</svg>\n"
  }

  private static func header(width: Double, height: Double, title: String) -> String {
    String(
      format:
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
        + "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height)
      + text(width / 2, 20, escape(title), anchor: "middle", size: 14)
  }

  private static func axis(left: Double, top: Double, bottom: Double, right: Double) -> String {
    String(
      format:
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
      left, top, left, bottom, left, bottom, right, bottom)
  }

  private static func text(
    _ x: Double, _ y: Double, _ content: String, anchor: String, size: Int = 12,
    color: String = "black"
  ) -> String {
    String(
      format:
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\" font-size=\"%d\" fill=\"%@\">%@</text>\n",
      x, y, anchor, size, color, content)
  }

  private static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }
}
