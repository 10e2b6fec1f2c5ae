import Foundation
import PipelineCore
import Testing

@Suite struct JSONBytesTests {
  @Test func base64MatchesFoundationAtEveryLengthAndByte() {
    var generator = SystemRandomNumberGenerator()
    var inputs: [[UInt8]] = (0..<20).map { length in (0..<length).map { UInt8($0 * 37 & 255) } }
    inputs.append(Array(0...255))
    inputs.append((0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) })
    for input in inputs {
      var json = JSONBytes(capacity: 0)
      json.raw("[")
      json.base64(input)
      json.raw("]")
      let expected = "[\"" + Data(input).base64EncodedString() + "\"]"
      #expect(String(decoding: json.bytes, as: UTF8.self) == expected, "\(input.count) bytes")
    }
  }
}
