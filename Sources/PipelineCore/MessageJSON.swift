import Foundation
import Planner

/// How every message of the pipeline is written: JSON with sorted keys and unescaped slashes
/// (`JSONEncoding`, as plans and profiles are). A value that cannot be written (a NaN, say)
/// throws; no record is ever sent empty. Batches are written by hand on the hot path
/// (`JSONBytes`): JSON that reads back as this encoding of the same batch, with its refusals.
extension Encodable {
  public func messageJSON() throws(EncodingError) -> [UInt8] {
    Array(try JSONEncoding.encode(self, [.sortedKeys, .withoutEscapingSlashes]))
  }
}
