import Foundation

/// How every message of the pipeline is written: JSON with sorted keys and unescaped slashes.
/// A value that cannot be written (a NaN, say) throws; no record is ever sent empty.
extension Encodable {
  public func messageJSON() throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(self))
  }
}
