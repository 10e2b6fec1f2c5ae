import Foundation

/// The apps file the planner reads: `{"apps":[{"id":"a","slo_ms":500,"rate":5.0}, ...]}`
/// (`Schemas/apps.schema.json`). Every mistake is one line naming the app and field.
public enum AppsFile {
  private struct Document: Decodable {
    let apps: [Entry]
  }

  private struct Entry: Decodable {
    let id: String?
    let sloMs: Double?
    let rate: Double?

    enum CodingKeys: String, CodingKey {
      case id
      case sloMs = "slo_ms"
      case rate
    }
  }

  public static func load(path: String) throws(PlannerInputError) -> [App] {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw PlannerInputError("cannot read apps file '\(path)': no such file or not readable")
    }
    return try parse(data, source: "apps file '\(path)'")
  }

  public static func parse(_ data: Data, source: String = "apps file") throws(PlannerInputError)
    -> [App]
  {
    let document = try PlannerResources.decode(Document.self, from: data, what: source)
    var apps: [App] = []
    var seen: [String: Int] = [:]
    for (index, entry) in document.apps.enumerated() {
      let position = "\(source): apps[\(index)]"
      guard let id = entry.id, !id.isEmpty else {
        throw PlannerInputError("\(position) has no 'id' (a non-empty string)")
      }
      if let problem = AppID.problem(id) {
        throw PlannerInputError("\(position): \(problem)")
      }
      let name = "\(source): app '\(id)'"
      if let first = seen[id] {
        throw PlannerInputError(
          "\(source): duplicate app id '\(id)' (apps[\(first)] and apps[\(index)])")
      }
      seen[id] = index
      guard let sloMs = entry.sloMs else {
        throw PlannerInputError("\(name) has no 'slo_ms'")
      }
      guard sloMs > 0, sloMs.isFinite else {
        throw PlannerInputError("\(name): slo_ms must be > 0 (got \(formatted(sloMs)))")
      }
      guard let rate = entry.rate else {
        throw PlannerInputError("\(name) has no 'rate' (requests per second)")
      }
      guard rate >= 0, rate.isFinite else {
        throw PlannerInputError("\(name): rate must be ≥ 0 (got \(formatted(rate)))")
      }
      apps.append(App(id: id, slo: sloMs / 1000, rate: rate))
    }
    return apps
  }

  /// The apps as an apps file (the inverse of `parse`).
  public static func encode(_ apps: [App]) -> Data {
    let entries = apps.map { app -> [String: Any] in
      ["id": app.id, "slo_ms": app.slo * 1000, "rate": app.rate]
    }
    return
      (try? JSONSerialization.data(
        withJSONObject: ["apps": entries], options: [.prettyPrinted, .sortedKeys])) ?? Data()
  }

  private static func formatted(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}
