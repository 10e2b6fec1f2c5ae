import Foundation
import Testing

/// Every relative link in README.md and docs/ leads to a file or folder of the repository.
@Suite struct DocumentationLinkTests {
  /// The repository's root, from this file's place in it.
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// The Markdown files checked: README.md and everything under docs/.
  static func documents() -> [URL] {
    var files = [root.appendingPathComponent("README.md")]
    let docs = root.appendingPathComponent("docs")
    if let walker = FileManager.default.enumerator(at: docs, includingPropertiesForKeys: nil) {
      for case let url as URL in walker where url.pathExtension == "md" { files.append(url) }
    }
    return files
  }

  /// The targets of `[text](target)` and `![alt](target)` links that are relative paths (no
  /// scheme, not a bare `#anchor`), without their `#anchor`.
  static func relativeTargets(in text: String) -> [String] {
    var targets: [String] = []
    var rest = Substring(text)
    while let open = rest.range(of: "](") {
      rest = rest[open.upperBound...]
      guard let close = rest.firstIndex(of: ")") else { break }
      var target = String(rest[..<close]).trimmingCharacters(in: .whitespaces)
      // `[text](path "title")`
      if let space = target.firstIndex(of: " ") { target = String(target[..<space]) }
      rest = rest[close...]
      if target.isEmpty || target.hasPrefix("#") || target.contains("://")
        || target.hasPrefix("mailto:")
      {
        continue
      }
      targets.append(String(target.split(separator: "#", maxSplits: 1)[0]))
    }
    return targets
  }

  @Test func theLinkFinderSeesRelativeLinksOnly() {
    let text = """
      See [the docs](docs/operating.md#metrics), [a site](https://example.org),
      [here](#top), ![chart](docs/images/a.svg "A chart") and [up](../shared/DESIGN.md).
      """
    #expect(
      Self.relativeTargets(in: text) == [
        "docs/operating.md", "docs/images/a.svg", "../shared/DESIGN.md",
      ])
  }

  @Test func everyRelativeLinkResolves() throws {
    let documents = Self.documents()
    #expect(documents.count > 5, "docs/ holds the documentation")
    var broken: [String] = []
    for document in documents {
      let text = try String(contentsOf: document, encoding: .utf8)
      let folder = document.deletingLastPathComponent()
      for target in Self.relativeTargets(in: text) {
        let path = target.removingPercentEncoding ?? target
        let resolved = folder.appendingPathComponent(path).standardizedFileURL.path
        if !FileManager.default.fileExists(atPath: resolved) {
          broken.append("\(document.lastPathComponent): \(target)")
        }
      }
    }
    #expect(broken.isEmpty, "links that lead nowhere: \(broken)")
  }
}
