import Foundation

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

  /// The same command with `more` options after its own.
  public func adding(_ more: [OptionSpec]) -> CommandSpec {
    CommandSpec(
      name: name, summary: summary, usage: usage, options: options + more,
      discussion: discussion, positionals: positionals)
  }

  public var help: String {
    var text = "\(summary)\n\nUsage: harmonybatch \(name) \(usage)\n"
    if !discussion.isEmpty { text += "\n\(discussion)\n" }
    text += "\nOptions:\n"
    let rows =
      options + [
        .option("config", "FILE", "Options from a JSON file: {\"option-name\": value, ...}."),
        .flag("help", "Show this help and exit."),
      ]
    let labels = rows.map { "  --\($0.name)" + ($0.value.map { " \($0)" } ?? "") }
    let width = min(34, (labels.map(\.count).max() ?? 0) + 2)
    for (label, option) in zip(labels, rows) {
      let pad =
        label.count < width
        ? String(repeating: " ", count: width - label.count)
        : "\n" + String(repeating: " ", count: width)
      text += label + pad + option.help + (option.repeatable ? " (repeatable)" : "") + "\n"
    }
    text += """

      Every option can also come from the environment (--bootstrap: \(Self.environmentName("bootstrap")),
      --report-interval: \(Self.environmentName("report-interval")); a flag: true or false) or from
      the --config file (or \(Self.environmentName("config"))); a flag on the command line wins over
      the environment, which wins over the file, which wins over the default.

      """
    return text
  }

  /// A tool's help: `intro`, then under "Commands:" a line per command, its name in a column as
  /// wide as the longest name plus two spaces, then its summary.
  public static func overview(_ intro: String, commands: [CommandSpec]) -> String {
    let width = (commands.map(\.name.count).max() ?? 0) + 2
    return commands.reduce(intro + "\n\nCommands:\n") { text, command in
      text + "  " + command.name.padding(toLength: width, withPad: " ", startingAt: 0)
        + command.summary + "\n"
    }
  }

  /// The environment variable of an option: `HARMONYBATCH_` and its name in capitals, dashes as
  /// underscores (`--model-dir`: `HARMONYBATCH_MODEL_DIR`).
  public static func environmentName(_ option: String) -> String {
    "HARMONYBATCH_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
  }

  /// Parses `--name value`, `--name=value` and `--flag`, then fills the options not given from
  /// `environment` (`environmentName`) and then from the `--config` JSON file. `--help`
  /// anywhere wins.
  public func parse(_ arguments: [String], environment: [String: String] = [:])
    throws(UsageError) -> ParsedOptions
  {
    var parsed = try parseArguments(arguments)
    guard !parsed.helpRequested else { return parsed }
    try fill(&parsed, from: environment)
    if let path = parsed.values["config"]?.last ?? environment[Self.environmentName("config")] {
      try fill(&parsed, fromFile: path)
    }
    parsed.values["config"] = nil
    return parsed
  }

  private func parseArguments(_ arguments: [String]) throws(UsageError) -> ParsedOptions {
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
      guard
        let option = options.first(where: { $0.name == key })
          ?? (key == "config" ? .option("config", "FILE", "") : nil)
      else {
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
      parsed.onCommandLine.insert(key)
    }
    if !parsed.helpRequested && parsed.positionals.count < positionals.lowerBound {
      throw UsageError("'\(name)' needs more arguments: harmonybatch \(name) \(usage)")
    }
    return parsed
  }

  /// Options not given on the command line, from `HARMONYBATCH_…` variables.
  private func fill(_ parsed: inout ParsedOptions, from environment: [String: String])
    throws(UsageError)
  {
    for option in options where !parsed.isGiven(option.name) {
      let variable = Self.environmentName(option.name)
      guard let text = environment[variable], !text.isEmpty else { continue }
      if option.value == nil {
        switch text.lowercased() {
        case "1", "true", "yes": parsed.flags.insert(option.name)
        case "0", "false", "no": break
        default: throw UsageError("\(variable) must be true or false, got '\(text)'")
        }
      } else {
        parsed.values[option.name] =
          option.repeatable ? text.split(separator: ",").map(String.init) : [text]
      }
    }
  }

  /// Options given neither on the command line nor in the environment, from a JSON object file.
  private func fill(_ parsed: inout ParsedOptions, fromFile path: String) throws(UsageError) {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UsageError("cannot read the config file '\(path)'")
    }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw UsageError("the config file '\(path)' is not a JSON object")
    }
    for key in object.keys.sorted() {
      guard let option = options.first(where: { $0.name == key }) else {
        throw UsageError("the config file '\(path)' sets '\(key)', not an option of '\(name)'")
      }
      guard !parsed.isGiven(key) else { continue }
      let value = object[key]!
      if option.value == nil {
        guard let on = value as? Bool else {
          throw UsageError("the config file '\(path)': '\(key)' must be true or false")
        }
        if on { parsed.flags.insert(key) }
        continue
      }
      func text(_ item: Any) throws(UsageError) -> String {
        if let string = item as? String { return string }
        if let number = item as? NSNumber, !(item is Bool) { return number.stringValue }
        throw UsageError("the config file '\(path)': '\(key)' must be a string or a number")
      }
      if let pairs = value as? [String: Any] {
        // A repeatable KEY=VALUE option as an object: {"security.protocol": "SASL_SSL"}.
        guard option.repeatable, option.value == "KEY=VALUE" else {
          throw UsageError("the config file '\(path)': '\(key)' cannot be an object")
        }
        var values: [String] = []
        for name in pairs.keys.sorted() { values.append(name + "=" + (try text(pairs[name]!))) }
        parsed.values[key] = values
      } else if let items = value as? [Any] {
        guard option.repeatable || items.count == 1 else {
          throw UsageError("the config file '\(path)': '\(key)' takes one value")
        }
        var values: [String] = []
        for item in items { values.append(try text(item)) }
        parsed.values[key] = values
      } else {
        parsed.values[key] = [try text(value)]
      }
    }
  }
}

/// The options a command was called with, with typed, validating accessors.
public struct ParsedOptions: Sendable {
  public let command: String
  public var values: [String: [String]] = [:]
  public var flags: Set<String> = []
  public var positionals: [String] = []
  public var helpRequested = false
  /// Options whose values came from the command line (seen by anyone who can list processes),
  /// not from the environment or a config file.
  public var onCommandLine: Set<String> = []

  public init(command: String) { self.command = command }

  public func string(_ name: String) -> String? { values[name]?.last }

  public func strings(_ name: String) -> [String] { values[name] ?? [] }

  public func flag(_ name: String) -> Bool { flags.contains(name) }

  /// Whether the option was set (a value or a flag) by an earlier source.
  func isGiven(_ name: String) -> Bool { values[name] != nil || flags.contains(name) }

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

  /// An integer in `range`, or nil when the option is not given.
  public func int(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
    guard string(name) != nil else { return nil }
    return try int(name, default: range.lowerBound, in: range)
  }

  /// A number in `range`, or nil when the option is not given.
  public func double(_ name: String, in range: ClosedRange<Double>) throws(UsageError) -> Double? {
    guard string(name) != nil else { return nil }
    return try double(name, default: range.lowerBound, in: range)
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

  /// One of an enumeration's cases, named by its raw value (the words offered, in the cases'
  /// order).
  public func choice<Choice: RawRepresentable & CaseIterable>(
    _ name: String, default defaultValue: Choice
  ) throws(UsageError) -> Choice where Choice.RawValue == String {
    let text = try choice(
      name, default: defaultValue.rawValue, from: Choice.allCases.map(\.rawValue))
    return Choice(rawValue: text)!
  }

  /// A comma-separated list, also accepted as repeated options.
  public func list(_ name: String) -> [String] {
    strings(name).flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
  }

  /// A comma-separated list of integers in `range` (or repeated options).
  public func intList(_ name: String, default defaultValue: [Int], in range: ClosedRange<Int>)
    throws(UsageError) -> [Int]
  {
    let items = list(name)
    guard !items.isEmpty else { return defaultValue }
    return try items.map { (text) throws(UsageError) -> Int in
      guard let value = Int(text.replacingUnderscores), range.contains(value) else {
        throw UsageError(
          "--\(name) must list integers in \(range.lowerBound)...\(range.upperBound), got '\(text)'"
        )
      }
      return value
    }
  }
}

extension String {
  fileprivate var replacingUnderscores: String { filter { $0 != "_" } }
}
