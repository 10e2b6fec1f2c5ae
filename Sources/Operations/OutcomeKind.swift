/// How a request ended: a result, a late record, or a dead letter.
public enum OutcomeKind: String, Sendable {
  case result
  case late
  case deadLetter = "dead-letter"
}
