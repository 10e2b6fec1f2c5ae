import Foundation

/// Reads the JSON data shipped with the planner (profiles, pricing presets) and user files in the
/// same formats, turning every failure into a one-line `PlannerInputError`.
enum PlannerResources {
  static func decode<T: Decodable>(
    _ type: T.Type, resource: String, in directory: String
  ) throws(PlannerInputError) -> T {
    guard
      let url = Bundle.module.url(
        forResource: resource, withExtension: "json", subdirectory: directory)
    else {
      throw PlannerInputError(
        "built-in \(directory) '\(resource)' is missing from the planner's resources")
    }
    return try decodeFile(type, path: url.path, what: String(directory.dropLast()))
  }

  static func decodeFile<T: Decodable>(
    _ type: T.Type, path: String, what: String
  ) throws(PlannerInputError) -> T {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw PlannerInputError("cannot read \(what) file '\(path)': \(reason(error))")
    }
    return try decode(type, from: data, what: "\(what) file '\(path)'")
  }

  static func decode<T: Decodable>(
    _ type: T.Type, from data: Data, what: String
  ) throws(PlannerInputError) -> T {
    do {
      return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
      throw PlannerInputError("\(what): \(describe(error))")
    } catch {
      throw PlannerInputError("\(what): \(error)")
    }
  }

  static func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      let keys = CodingPathText.of(context.codingPath)
      return keys.isEmpty ? "top level" : keys
    }
    switch error {
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
      return "not valid JSON"
    case .dataCorrupted(let context):
      return "\(path(context)): \(context.debugDescription)"
    case .keyNotFound(let key, let context):
      let parent = path(context)
      return "missing field '\(key.stringValue)'" + (parent == "top level" ? "" : " in \(parent)")
    case .typeMismatch(let type, let context):
      return "\(path(context)) should be \(describeType(type))"
    case .valueNotFound(let type, let context):
      return "\(path(context)) should be \(describeType(type)), not null"
    @unknown default:
      return "\(error)"
    }
  }

  private static func describeType(_ type: Any.Type) -> String {
    switch type {
    case is Double.Type, is Int.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    default: return "\(type)".contains("Array") ? "a list" : "an object"
    }
  }

  private static func reason(_ error: Error) -> String {
    let nsError = error as NSError
    if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError {
      return "no such file"
    }
    return nsError.localizedDescription
  }
}
