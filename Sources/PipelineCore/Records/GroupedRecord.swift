import KafkaMessages
import Planner

/// A request on hb.grouped: the original record plus the router's headers, which carry all the
/// batcher needs (group, plan version, function, batch size, this request's wait, the batch's
/// maximum latency). The batcher therefore never needs the plan itself, and a batcher that lags
/// behind the router still batches every request exactly as its plan version says.
public struct GroupedRecord: Sendable, Equatable {
  public var requestID: String
  public var app: String
  /// Milliseconds since the epoch (the request's CreateTime).
  public var arrivalMs: Int64
  public var sloMs: Double
  public var timeoutMs: Double
  public var spec: GroupSpec

  public init(
    requestID: String, app: String, arrivalMs: Int64, sloMs: Double, timeoutMs: Double,
    spec: GroupSpec
  ) {
    self.requestID = requestID
    self.app = app
    self.arrivalMs = arrivalMs
    self.sloMs = sloMs
    self.timeoutMs = timeoutMs
    self.spec = spec
  }

  static let routingHeaders: Set<String> = [
    HeaderName.slo, HeaderName.requestID, HeaderName.app, HeaderName.route,
  ]
  /// Headers the router writes and replaces when a request carries its own.
  static let writtenHeaders = routingHeaders.union([HeaderName.source])

  /// The headers of the hb.grouped record: the request's own headers, minus any routing headers
  /// it carried, plus the router's: `hb-app`, `hb-request-id`, `hb-slo-ms`, and `hb-route`, which
  /// packs what only the batcher reads into one value (one header to build and parse instead of
  /// seven): `version|batch size|timeout ms|max latency ms|arrival ms|function|group`.
  /// `source`: the request's coordinates on hb.requests (`hb-source`), for the router's recovery.
  public func headers(keeping original: [KafkaHeader], source: String? = nil) -> [KafkaHeader] {
    var routes = RouteEncoder(capacity: 0)
    return headers(keeping: original, source: source, routes: &routes)
  }

  /// `headers(keeping:source:)`, with the `hb-route` value written through (and its fixed parts
  /// remembered by) `routes`.
  public func headers(
    keeping original: [KafkaHeader], source: String? = nil, routes: inout RouteEncoder
  ) -> [KafkaHeader] {
    var headers: [KafkaHeader] = []
    headers.reserveCapacity(original.count + 5)
    for header in original
    where !(HeaderName.isReserved(header.key) && Self.writtenHeaders.contains(header.key)) {
      headers.append(header)
    }
    headers.append(KafkaHeader(key: HeaderName.app, value: Array(app.utf8)))
    headers.append(KafkaHeader(key: HeaderName.requestID, value: Array(requestID.utf8)))
    var slo: [UInt8] = []
    slo.reserveCapacity(12)
    DecimalText.append(sloMs, to: &slo)
    headers.append(KafkaHeader(key: HeaderName.slo, value: slo))
    if let source { headers.append(KafkaHeader(key: HeaderName.source, value: Array(source.utf8))) }
    headers.append(
      KafkaHeader(
        key: HeaderName.route,
        value: routes.value(spec: spec, timeoutMs: timeoutMs, arrivalMs: arrivalMs)))
    return headers
  }

  /// Reads the router's headers back; the error names the header missing or malformed.
  /// One pass over the headers, no dictionary: this runs for every request.
  public static func parse(_ headers: [KafkaHeader]) -> Result<GroupedRecord, ParseError> {
    var routes = RouteParser(capacity: 0)
    return parse(headers, routes: &routes)
  }

  /// `parse`, with `hb-route` values parsed through (and remembered by) `routes`.
  public static func parse(_ headers: [KafkaHeader], routes: inout RouteParser) -> Result<
    GroupedRecord, ParseError
  > {
    var app: String?
    var requestID: String?
    var slo: Double?
    var route: [UInt8]?
    for header in headers {
      let key = header.key
      guard HeaderName.isReserved(key) else { continue }
      switch key {
      case HeaderName.app: app = header.value.map { String(decoding: $0, as: UTF8.self) }
      case HeaderName.requestID:
        requestID = header.value.map { String(decoding: $0, as: UTF8.self) }
      case HeaderName.slo:
        slo = header.value.flatMap(sloValue)
      case HeaderName.route: route = header.value
      default: break
      }
    }
    guard let route, let spec = routes.parse(route) else {
      return .failure(ParseError(HeaderName.route))
    }
    guard let requestID, !requestID.isEmpty else {
      return .failure(ParseError(HeaderName.requestID))
    }
    guard let app, !app.isEmpty else { return .failure(ParseError(HeaderName.app)) }
    guard let slo else { return .failure(ParseError(HeaderName.slo)) }
    return .success(
      GroupedRecord(
        requestID: requestID, app: app, arrivalMs: spec.arrival, sloMs: slo,
        timeoutMs: spec.timeout, spec: spec.spec))
  }

  /// `version|batch size|timeout ms|max latency ms|arrival ms|function|group` (the group last:
  /// it may itself hold `|`).
  static func parseRoute(_ bytes: [UInt8]) -> (spec: GroupSpec, timeout: Double, arrival: Int64)? {
    var fields: [Substring] = []
    let text = String(decoding: bytes, as: UTF8.self)
    var rest = Substring(text)
    for _ in 0..<6 {
      guard let bar = rest.firstIndex(of: "|") else { return nil }
      fields.append(rest[..<bar])
      rest = rest[rest.index(after: bar)...]
    }
    guard let version = Int(fields[0]), let capacity = Int(fields[1]), capacity >= 1,
      let timeout = Double(fields[2]), timeout >= 0, timeout.isFinite,
      let latencyMax = Double(fields[3]), latencyMax >= 0, latencyMax.isFinite,
      let arrival = Int64(fields[4]), let function = functionConfig(String(fields[5])),
      !rest.isEmpty
    else { return nil }
    let spec = GroupSpec(
      key: GroupKey(planVersion: version, group: String(rest)), function: function,
      capacity: capacity, latencyMax: latencyMax / 1000)
    return (spec, timeout, arrival)
  }

  /// `hb-slo-ms` as the router writes it (plain digits) without a `String`; anything else
  /// through `Double(_:)`.
  private static func sloValue(_ bytes: [UInt8]) -> Double? {
    if (1...15).contains(bytes.count) {
      var value: Int64 = 0
      var digits = true
      for byte in bytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
          digits = false
          break
        }
        value = value * 10 + Int64(byte - UInt8(ascii: "0"))
      }
      if digits { return Double(value) }
    }
    return nonNegative(String(decoding: bytes, as: UTF8.self))
  }

  private static func nonNegative(_ text: String) -> Double? {
    Double(text).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
  }

  public struct ParseError: Error, Equatable, Sendable {
    public let header: String
    init(_ header: String) { self.header = header }
    public var message: String { "missing or malformed header '\(header)'" }
  }

  /// `cpu:<vcpu>` or `gpu:<gpu GB>:<host vcpu>`.
  static func functionText(_ function: FunctionConfig) -> String {
    function.kind == .cpu
      ? "cpu:\(number(function.vcpu))" : "gpu:\(function.gpuMemoryGB):\(number(function.vcpu))"
  }

  static func functionConfig(_ text: String) -> FunctionConfig? {
    let parts = text.split(separator: ":")
    switch (parts.first, parts.count) {
    case ("cpu", 2):
      return Double(parts[1]).flatMap { $0 > 0 && $0.isFinite ? .cpu(vcpu: $0) : nil }
    case ("gpu", 3):
      guard let memory = Int(parts[1]), memory > 0, let vcpu = Double(parts[2]), vcpu > 0,
        vcpu.isFinite
      else { return nil }
      return .gpu(memoryGB: memory, vcpu: vcpu)
    default:
      return nil
    }
  }

  /// A number without a needless `.0`, in Swift's shortest round-trip form (`DecimalText`'s
  /// rule, as a string).
  public static func number(_ value: Double) -> String {
    var bytes: [UInt8] = []
    DecimalText.append(value, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }
}
