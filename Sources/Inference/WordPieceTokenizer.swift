import Foundation

/// BERT's uncased tokenizer: clean the text, put spaces around CJK ideographs, lower-case, strip
/// accents, split on whitespace and punctuation, then split each word into the longest
/// vocabulary pieces (`##` marks a continuation). Adds `[CLS]` and `[SEP]` and truncates to
/// `maxLength` tokens.
public struct WordPieceTokenizer: Sendable {
  public let vocabulary: [String: Int32]
  public let maxLength: Int
  public let cls: Int32
  public let sep: Int32
  public let unknown: Int32
  public let padding: Int32
  static let maxWordLength = 100

  public init(vocabularyPath: String, maxLength: Int = 256) throws(InferenceError) {
    let text: String
    do {
      text = try String(contentsOfFile: vocabularyPath, encoding: .utf8)
    } catch {
      throw InferenceError("cannot read the vocabulary '\(vocabularyPath)'")
    }
    var vocabulary: [String: Int32] = [:]
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    {
      let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
      if !token.isEmpty, vocabulary[token] == nil { vocabulary[token] = Int32(index) }
    }
    try self.init(vocabulary: vocabulary, maxLength: maxLength)
  }

  public init(vocabulary: [String: Int32], maxLength: Int = 256) throws(InferenceError) {
    func id(_ token: String) throws(InferenceError) -> Int32 {
      guard let id = vocabulary[token] else {
        throw InferenceError("the vocabulary has no \(token) token")
      }
      return id
    }
    self.vocabulary = vocabulary
    self.maxLength = max(2, maxLength)
    cls = try id("[CLS]")
    sep = try id("[SEP]")
    unknown = try id("[UNK]")
    padding = try id("[PAD]")
  }

  /// Token ids of `text`, with `[CLS]` first and `[SEP]` last, at most `maxLength` in all.
  public func encode(_ text: String) -> [Int32] {
    var ids: [Int32] = [cls]
    let room = maxLength - 2
    outer: for word in basicTokens(text) {
      for piece in wordPieces(word) {
        if ids.count - 1 == room { break outer }
        ids.append(piece)
      }
    }
    ids.append(sep)
    return ids
  }

  /// The words before WordPiece: cleaned, CJK-separated, lower-cased, accent-stripped, split on
  /// whitespace and punctuation.
  func basicTokens(_ text: String) -> [[Unicode.Scalar]] {
    var cleaned = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
      if Self.isWhitespace(scalar) {
        cleaned.append(" ")
      } else if Self.isCJK(scalar) {
        cleaned.append(" ")
        cleaned.append(scalar)
        cleaned.append(" ")
      } else {
        cleaned.append(scalar)
      }
    }
    var words: [[Unicode.Scalar]] = []
    for chunk in String(cleaned).split(separator: " ") {
      let folded = chunk.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars
        .filter { $0.properties.generalCategory != .nonspacingMark }
      var current: [Unicode.Scalar] = []
      for scalar in folded {
        if Self.isWhitespace(scalar) {
          if !current.isEmpty { words.append(current) }
          current = []
        } else if Self.isPunctuation(scalar) {
          if !current.isEmpty { words.append(current) }
          words.append([scalar])
          current = []
        } else {
          current.append(scalar)
        }
      }
      if !current.isEmpty { words.append(current) }
    }
    return words
  }

  /// Greedy longest-match-first pieces of one word; `[UNK]` when a part matches nothing.
  func wordPieces(_ word: [Unicode.Scalar]) -> [Int32] {
    guard word.count <= Self.maxWordLength else { return [unknown] }
    var pieces: [Int32] = []
    var start = 0
    while start < word.count {
      var end = word.count
      var found: Int32?
      while start < end {
        var candidate = start > 0 ? "##" : ""
        candidate.unicodeScalars.append(contentsOf: word[start..<end])
        if let id = vocabulary[candidate] {
          found = id
          break
        }
        end -= 1
      }
      guard let found else { return [unknown] }
      pieces.append(found)
      start = end
    }
    return pieces
  }

  static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case " ", "\t", "\n", "\r": return true
    default: return scalar.properties.generalCategory == .spaceSeparator
    }
  }

  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "\t", "\n", "\r": return false
    default:
      switch scalar.properties.generalCategory {
      case .control, .format, .surrogate, .privateUse, .unassigned: return true
      default: return false
      }
    }
  }

  static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
    let value = scalar.value
    if (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value)
      || (123...126).contains(value)
    {
      return true
    }
    switch scalar.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
      .initialPunctuation, .finalPunctuation, .otherPunctuation:
      return true
    default: return false
    }
  }

  static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
      0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
      return true
    default: return false
    }
  }
}
