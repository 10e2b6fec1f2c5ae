/// Columns of text aligned for a terminal: left-aligned words, right-aligned numbers.
public struct TextTable {
  public enum Alignment { case left, right }

  public let headers: [String]
  public let alignments: [Alignment]
  public var rows: [[String]] = []

  public init(_ columns: [(String, Alignment)]) {
    headers = columns.map(\.0)
    alignments = columns.map(\.1)
  }

  public mutating func append(_ row: [String]) { rows.append(row) }

  public var rendered: String {
    let all = [headers] + rows
    let widths = headers.indices.map { column in
      all.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0
    }
    func line(_ cells: [String]) -> String {
      headers.indices.map { column in
        let cell = column < cells.count ? cells[column] : ""
        let pad = String(repeating: " ", count: widths[column] - cell.count)
        return alignments[column] == .left ? cell + pad : pad + cell
      }.joined(separator: "  ").trimmingTrailingSpaces
    }
    return ([line(headers)] + rows.map(line)).joined(separator: "\n")
  }
}

extension String {
  fileprivate var trimmingTrailingSpaces: String {
    var text = self
    while text.last == " " { text.removeLast() }
    return text
  }
}
