import Arguments
import Pipeline

/// The options every long-running service shares: its metrics and health endpoint.
enum ServiceOptions {
  static let specs: [OptionSpec] = [
    .option(
      "metrics-port", "PORT",
      "Serve GET /metrics (Prometheus), /healthz and /readyz on this port (0: any free port, "
        + "logged; default: no endpoint).")
  ]

  static func group(_ options: ParsedOptions) throws -> ServiceGroup.Settings {
    var settings = ServiceGroup.Settings()
    if options.string("metrics-port") != nil {
      settings.metricsPort = try options.int("metrics-port", default: 0, in: 0...65_535)
    }
    return settings
  }
}
