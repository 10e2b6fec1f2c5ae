import Foundation

/// A reader for the safetensors format: an 8-byte little-endian header length, a JSON header
/// (`name → {dtype, shape, data_offsets}`), then the raw little-endian tensor data.
public struct SafeTensors: Sendable {
  public struct Entry: Sendable, Equatable {
    public let dtype: String
    public let shape: [Int]
    let range: Range<Int>
  }

  private let data: Data
  private let base: Int
  public let entries: [String: Entry]

  public init(path: String) throws(InferenceError) {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
      throw InferenceError("cannot read '\(path)': \(error.localizedDescription)")
    }
    try self.init(data: data, source: path)
  }

  public init(data: Data, source: String = "safetensors") throws(InferenceError) {
    guard data.count >= 8 else {
      throw InferenceError("\(source): too short for a safetensors file")
    }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength < UInt64(data.count - 8) else {
      throw InferenceError("\(source): header length \(headerLength) exceeds the file")
    }
    let header = data.subdata(in: 8..<(8 + Int(headerLength)))
    guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
      throw InferenceError("\(source): the header is not a JSON object")
    }
    var entries: [String: Entry] = [:]
    let payload = data.count - 8 - Int(headerLength)
    for (name, value) in object where name != "__metadata__" {
      guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
        let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int],
        offsets.count == 2, offsets[0] <= offsets[1], offsets[1] <= payload
      else { throw InferenceError("\(source): malformed entry for tensor '\(name)'") }
      entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }
    self.data = data
    self.base = 8 + Int(headerLength)
    self.entries = entries
  }

  /// A float32 tensor, copied out, with its shape checked.
  public func floats(_ name: String, shape expected: [Int]) throws(InferenceError) -> [Float] {
    guard let entry = entries[name] else { throw InferenceError("tensor '\(name)' is missing") }
    guard entry.dtype == "F32" else {
      throw InferenceError("tensor '\(name)' is \(entry.dtype), expected F32")
    }
    guard entry.shape == expected else {
      throw InferenceError("tensor '\(name)' has shape \(entry.shape), expected \(expected)")
    }
    let count = expected.reduce(1, *)
    guard entry.range.count == count * 4 else {
      throw InferenceError("tensor '\(name)' has \(entry.range.count) bytes for \(count) floats")
    }
    var result = [Float](repeating: 0, count: count)
    result.withUnsafeMutableBytes { target in
      data.withUnsafeBytes { source in
        let start = base + entry.range.lowerBound
        target.copyMemory(
          from: UnsafeRawBufferPointer(rebasing: source[start..<(start + count * 4)]))
      }
    }
    // safetensors is little-endian, as is every machine this runs on.
    return result
  }
}
