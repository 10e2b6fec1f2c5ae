/// A run (the demo, a benchmark) that could not finish, with what went wrong (exit code 1).
struct RunFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
