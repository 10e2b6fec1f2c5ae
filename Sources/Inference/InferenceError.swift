/// A model that cannot be loaded or an input that cannot be run, with a message that says what
/// to do about it.
public struct InferenceError: Error, Equatable, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
