import Foundation

extension Encodable {
  public func sortedJSON() -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? Array(encoder.encode(self))) ?? []
  }
}
