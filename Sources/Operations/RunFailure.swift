/// A run (the demo, a benchmark) that could not finish, with what went wrong (exit code 1).
public struct RunFailure: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
