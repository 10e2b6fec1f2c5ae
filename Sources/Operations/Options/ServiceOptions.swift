import Arguments
import Pipeline

/// The options every long-running service shares: its metrics and health endpoint.
public enum ServiceOptions {
  /// `--metrics-port` and `--metrics-address`.
  public static let specs: [OptionSpec] = [
    .option(
      "metrics-port", "PORT",
      "Serve GET /metrics (Prometheus), /healthz and /readyz on this port (0: any free port, "
        + "logged; default: no endpoint)."),
    .option(
      "metrics-address", "IP",
      "The address that endpoint listens on (default 127.0.0.1, this host only; 0.0.0.0 or :: "
        + "for every interface, as a pod's scraper and probes need)."),
  ]

  /// `--create-reply-topics`, of the services that send replies (the batcher and the worker).
  public static let createReplyTopics = OptionSpec.flag(
    "create-reply-topics",
    "Send replies to topics that do not exist yet, for a broker that creates topics on first use "
      + "to create (default: a reply goes only to an existing topic; see docs/security.md).")

  /// The service group's settings: the endpoint's port and address, checked (an IP literal,
  /// and only with a port).
  public static func group(_ options: ParsedOptions) throws -> ServiceGroup.Settings {
    var settings = ServiceGroup.Settings()
    settings.metricsPort = try options.int("metrics-port", in: 0...65_535)
    if let address = options.string("metrics-address") {
      guard HTTPEndpoint.isAddressLiteral(address) else {
        throw UsageError("--metrics-address wants an IPv4 or IPv6 address, got '\(address)'")
      }
      guard settings.metricsPort != nil else {
        throw UsageError("--metrics-address needs --metrics-port")
      }
      settings.metricsAddress = address
    }
    return settings
  }
}
