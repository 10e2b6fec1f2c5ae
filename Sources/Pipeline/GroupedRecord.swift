import Kafka
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
    HeaderName.slo, HeaderName.requestID, HeaderName.app, HeaderName.group,
    HeaderName.planVersion, HeaderName.arrival, HeaderName.timeout, HeaderName.batchSize,
    HeaderName.function, HeaderName.latencyMax,
  ]

  /// The headers of the hb.grouped record: the request's own headers, minus any routing headers
  /// it carried, plus the router's.
  public func headers(keeping original: [KafkaHeader]) -> [KafkaHeader] {
    var headers = original.filter {
      !($0.key.hasPrefix("hb-") && Self.routingHeaders.contains($0.key))
    }
    headers.reserveCapacity(headers.count + 10)
    func add(_ key: String, _ value: String) {
      headers.append(KafkaHeader(key: key, value: Array(value.utf8)))
    }
    add(HeaderName.app, app)
    add(HeaderName.requestID, requestID)
    add(HeaderName.slo, Self.number(sloMs))
    add(HeaderName.arrival, String(arrivalMs))
    add(HeaderName.group, spec.key.group)
    add(HeaderName.planVersion, String(spec.key.planVersion))
    add(HeaderName.timeout, Self.number(timeoutMs))
    add(HeaderName.batchSize, String(spec.capacity))
    add(HeaderName.function, Self.functionText(spec.function))
    add(HeaderName.latencyMax, Self.number(spec.latencyMax * 1000))
    return headers
  }

  /// Reads the router's headers back; the error names the first header missing or malformed.
  /// One pass over the headers, no dictionary: this runs for every request.
  public static func parse(_ headers: [KafkaHeader]) -> Result<GroupedRecord, ParseError> {
    var app: String?
    var requestID: String?
    var slo: Double?
    var arrival: Int64?
    var group: String?
    var version: Int?
    var timeout: Double?
    var capacity: Int?
    var function: FunctionConfig?
    var latencyMax: Double?
    for header in headers {
      let key = header.key
      guard key.utf8.count > 3, key.hasPrefix("hb-") else { continue }
      let text = header.value.map { String(decoding: $0, as: UTF8.self) } ?? ""
      switch key {
      case HeaderName.app: app = text
      case HeaderName.requestID: requestID = text
      case HeaderName.slo: slo = nonNegative(text)
      case HeaderName.arrival: arrival = Int64(text)
      case HeaderName.group: group = text
      case HeaderName.planVersion: version = Int(text)
      case HeaderName.timeout: timeout = nonNegative(text)
      case HeaderName.batchSize: capacity = Int(text).flatMap { $0 >= 1 ? $0 : nil }
      case HeaderName.function: function = functionConfig(text)
      case HeaderName.latencyMax: latencyMax = nonNegative(text)
      default: break
      }
    }
    guard let function else { return .failure(ParseError(HeaderName.function)) }
    guard let version else { return .failure(ParseError(HeaderName.planVersion)) }
    guard let capacity else { return .failure(ParseError(HeaderName.batchSize)) }
    guard let arrival else { return .failure(ParseError(HeaderName.arrival)) }
    guard let group, !group.isEmpty else { return .failure(ParseError(HeaderName.group)) }
    guard let latencyMax else { return .failure(ParseError(HeaderName.latencyMax)) }
    guard let requestID, !requestID.isEmpty else {
      return .failure(ParseError(HeaderName.requestID))
    }
    guard let app, !app.isEmpty else { return .failure(ParseError(HeaderName.app)) }
    guard let slo else { return .failure(ParseError(HeaderName.slo)) }
    guard let timeout else { return .failure(ParseError(HeaderName.timeout)) }
    let spec = GroupSpec(
      key: GroupKey(planVersion: version, group: group), function: function, capacity: capacity,
      latencyMax: latencyMax / 1000)
    return .success(
      GroupedRecord(
        requestID: requestID, app: app, arrivalMs: arrival, sloMs: slo, timeoutMs: timeout,
        spec: spec))
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
      return Double(parts[1]).flatMap { $0 > 0 ? .cpu(vcpu: $0) : nil }
    case ("gpu", 3):
      guard let memory = Int(parts[1]), memory > 0, let vcpu = Double(parts[2]), vcpu > 0 else {
        return nil
      }
      return .gpu(memoryGB: memory, vcpu: vcpu)
    default:
      return nil
    }
  }

  /// A number without a needless `.0`, in Swift's shortest round-trip form.
  static func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}
