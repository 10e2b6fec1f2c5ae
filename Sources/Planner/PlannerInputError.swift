/// Input the planner cannot use: a bad apps file, profile or pricing preset. The message names the
/// app or field at fault and fits on one line; the command line prints it and exits with code 2.
public struct PlannerInputError: Error, Equatable, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
