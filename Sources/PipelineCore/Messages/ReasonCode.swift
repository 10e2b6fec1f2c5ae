/// Stable codes of dead-letter records (`hb-error`).
public enum ReasonCode: String, Sendable, CaseIterable, Codable {
  /// The request has no key (the app id).
  case missingApp = "missing-app"
  /// The key is not an app id: not UTF-8 text, over 128 bytes, or characters other than letters,
  /// digits and `. _ - : @ / +` (`RequestLimits`).
  case badKey = "bad-key"
  /// `hb-request-id` is over 256 bytes or has control characters (`RequestLimits`).
  case badRequestID = "bad-request-id"
  /// Over 64 headers, or a header name empty or over 256 bytes (`RequestLimits`).
  case badHeaders = "bad-headers"
  /// `hb-reply-topic` is not a legal topic name, or names one of the pipeline's own topics.
  case badReplyTopic = "bad-reply-topic"
  /// `hb-slo-ms` is not a decimal number of milliseconds in 1…3,600,000.
  case badSLO = "bad-slo"
  /// No `hb-slo-ms` header and the app has no SLO in the plan.
  case missingSLO = "missing-slo"
  /// The payload is larger than the router's limit.
  case payloadTooLarge = "payload-too-large"
  /// No function can serve the request within its SLO.
  case impossibleSLO = "impossible-slo"
  /// The plan does not cover the app and no profile is loaded to serve it alone.
  case unplannedApp = "unplanned-app"
  /// The plan does not cover the app, and the router serves its limit of groups alone already
  /// (`RoutingTable.maxUnplanned`); counted for the controller, which plans it.
  case tooManyUnplanned = "too-many-unplanned"
  /// A record on hb.grouped without the router's headers.
  case badGroupedRecord = "bad-grouped-record"
  /// A record on hb.batches.* that is not a batch.
  case badBatch = "bad-batch"
  /// A batch for a group that is in none of the recent plans (`KnownGroups`): not made by a
  /// batcher following the plans.
  case unknownGroup = "unknown-group"
  /// A payload the worker's backend cannot run (e.g. not UTF-8 text for MiniLM).
  case badPayload = "bad-payload"
  /// The backend's output for the request cannot be written as JSON (a NaN in an embedding), or
  /// a Python handler returned outputs of the wrong count or kind.
  case badOutput = "bad-output"
  /// A Python worker's handler raised on the batch (`Deploy/python`): each of its requests.
  case handlerError = "handler-error"
  /// A Python worker's handler ran past `--handler-timeout`: each request of the batch.
  case handlerTimeout = "handler-timeout"
}
