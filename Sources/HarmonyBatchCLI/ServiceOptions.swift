import Arguments
import Foundation
import Pipeline

/// The options every long-running service shares: its metrics and health endpoint.
enum ServiceOptions {
  static let specs: [OptionSpec] = [
    .option(
      "metrics-port", "PORT",
      "Serve GET /metrics (Prometheus), /healthz and /readyz on this port (0: any free port, "
        + "logged; default: no endpoint)."),
    .option(
      "metrics-address", "IP",
      "The address that endpoint listens on (default 127.0.0.1, this host only; 0.0.0.0 or :: "
        + "for every interface, as a pod's scraper and probes need)."),
  ]

  static func group(_ options: ParsedOptions) throws -> ServiceGroup.Settings {
    var settings = ServiceGroup.Settings()
    if options.string("metrics-port") != nil {
      settings.metricsPort = try options.int("metrics-port", default: 0, in: 0...65_535)
    }
    if let address = options.string("metrics-address") {
      guard IPAddressLiteral.isValid(address) else {
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

/// An IPv4 or IPv6 address literal, as the metrics endpoint binds it.
enum IPAddressLiteral {
  static func isValid(_ text: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
  }
}
