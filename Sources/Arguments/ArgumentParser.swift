/// One `--name [VALUE]` option of a command.
public struct OptionSpec: Sendable {
  public let name: String
  /// The placeholder shown in help (`N`, `FILE`); `nil` makes a boolean flag.
  public let value: String?
  public let help: String
  public let repeatable: Bool

  public static func flag(_ name: String, _ help: String) -> OptionSpec {
    OptionSpec(name: name, value: nil, help: help, repeatable: false)
  }

  public static func option(
    _ name: String, _ value: String, _ help: String, repeatable: Bool = false
  ) -> OptionSpec {
    OptionSpec(name: name, value: value, help: help, repeatable: repeatable)
  }
}

/// What a command accepts and how `--help` describes it.
public struct CommandSpec: Sendable {
  public let name: String
  public let summary: String
  public let usage: String
  public let options: [OptionSpec]
  public let discussion: String
  /// How many bare words (like `kafka` in `bench kafka`) the command takes.
  public let positionals: ClosedRange<Int>

  public init(
    name: String, summary: String, usage: String, options: [OptionSpec], discussion: String = "",
    positionals: ClosedRange<Int> = 0...0
  ) {
    self.name = name
    self.summary = summary
    self.usage = usage
    self.options = options
    self.discussion = discussion
    self.positionals = positionals
  }

  public var help: String {
    var text = "\(summary)\n\nUsage: harmonybatch \(name) \(usage)\n"
    if !discussion.isEmpty { text += "\n\(discussion)\n" }
    text += "\nOptions:\n"
    let rows = options + [.flag("help", "Show this help and exit.")]
    let labels = rows.map { "  --\($0.name)" + ($0.value.map { " \($0)" } ?? "") }
    let width = min(34, (labels.map(\.count).max() ?? 0) + 2)
    for (label, option) in zip(labels, rows) {
      let pad =
        label.count < width
        ? String(repeating: " ", count: width - label.count)
        : "\n" + String(repeating: " ", count: width)
      text += label + pad + option.help + (option.repeatable ? " (repeatable)" : "") + "\n"
    }
    return text
  }

  /// Parses `--name value`, `--name=value` and `--flag`. `--help` anywhere wins.
  public func parse(_ arguments: [String]) throws(UsageError) -> ParsedOptions {
    var parsed = ParsedOptions(command: name)
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      index += 1
      if argument == "--help" || argument == "-h" {
        parsed.helpRequested = true
        continue
      }
      guard argument.hasPrefix("--"), argument.count > 2 else {
        guard parsed.positionals.count < positionals.upperBound, !argument.hasPrefix("-") else {
          throw UsageError(
            "unexpected argument '\(argument)' for '\(name)' (see 'harmonybatch \(name) --help')")
        }
        parsed.positionals.append(argument)
        continue
      }
      var key = String(argument.dropFirst(2))
      var inlineValue: String? = nil
      if let eq = key.firstIndex(of: "=") {
        inlineValue = String(key[key.index(after: eq)...])
        key = String(key[..<eq])
      }
      guard let option = options.first(where: { $0.name == key }) else {
        throw UsageError(
          "unknown option '--\(key)' for '\(name)' (see 'harmonybatch \(name) --help')")
      }
      guard option.value != nil else {
        if inlineValue != nil { throw UsageError("option '--\(key)' takes no value") }
        parsed.flags.insert(key)
        continue
      }
      let value: String
      if let inlineValue {
        value = inlineValue
      } else {
        guard index < arguments.count, !arguments[index].hasPrefix("--") else {
          throw UsageError("option '--\(key)' needs a value (\(option.value!))")
        }
        value = arguments[index]
        index += 1
      }
      if !option.repeatable && parsed.values[key] != nil {
        throw UsageError("option '--\(key)' given more than once")
      }
      parsed.values[key, default: []].append(value)
    }
    if !parsed.helpRequested && parsed.positionals.count < positionals.lowerBound {
      throw UsageError("'\(name)' needs more arguments: harmonybatch \(name) \(usage)")
    }
    return parsed
  }
}

/// The options a command was called with, with typed, validating accessors.
public struct ParsedOptions: Sendable {
  public let command: String
  public var values: [String: [String]] = [:]
  public var flags: Set<String> = []
  public var positionals: [String] = []
  public var helpRequested = false

  public init(command: String) { self.command = command }

  public func string(_ name: String) -> String? { values[name]?.last }

  public func strings(_ name: String) -> [String] { values[name] ?? [] }

  public func flag(_ name: String) -> Bool { flags.contains(name) }

  public func required(_ name: String) throws(UsageError) -> String {
    guard let value = string(name) else {
      throw UsageError("'\(command)' needs --\(name) (see 'harmonybatch \(command) --help')")
    }
    return value
  }

  public func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>)
    throws(UsageError) -> Int
  {
    guard let text = string(name) else { return defaultValue }
    guard let value = Int(text.replacingUnderscores), range.contains(value) else {
      throw UsageError(
        "--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
    }
    return value
  }

  public func double(_ name: String, default defaultValue: Double, in range: ClosedRange<Double>)
    throws(UsageError)
    -> Double
  {
    guard let text = string(name) else { return defaultValue }
    guard let value = Double(text), value.isFinite, range.contains(value) else {
      throw UsageError(
        "--\(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
    }
    return value
  }

  /// One of a fixed set of words.
  public func choice(_ name: String, default defaultValue: String, from choices: [String])
    throws(UsageError) -> String
  {
    guard let text = string(name) else { return defaultValue }
    guard choices.contains(text) else {
      throw UsageError("--\(name) must be one of \(choices.joined(separator: "|")), got '\(text)'")
    }
    return text
  }

  /// A comma-separated list, also accepted as repeated options.
  public func list(_ name: String) -> [String] {
    strings(name).flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
  }
}

extension String {
  fileprivate var replacingUnderscores: String { filter { $0 != "_" } }
}
