import Arguments
import Foundation
import Inference
import Kafka
import Logging
import Operations
import Planner

/// A command of the tool: what it accepts and says in `--help` (`spec`), and what it does with
/// the options parsed, returning the exit code.
protocol Command: Sendable {
  static var spec: CommandSpec { get }
  static func run(_ options: ParsedOptions) async throws -> Int32
}

/// The command-line tool: picks the command and maps errors to exit codes (2 for usage, 1 for
/// failures at run time).
public enum HarmonyBatch {
  static let version = "0.1.0"

  /// Every command, in the order the overview lists them.
  static let commands: [any Command.Type] = [
    DemoCommand.self, PlanCommand.self, BatcherCommand.self, WorkerCommand.self,
    ProfileCommand.self, ControllerCommand.self, ProduceCommand.self, WatchCommand.self,
    SimulateCommand.self, BrokerCommand.self, TopicsCommand.self, ConsumeCommand.self,
    BenchCommand.self, FaultsCommand.self,
  ]

  static var overview: String {
    CommandSpec.overview(
      """
      harmonybatch \(version) — batch multi-SLO DNN inference requests on Kafka onto right-sized
      CPU and GPU functions (HarmonyBatch, IWQoS 2024).

      Usage: harmonybatch <command> [options]     harmonybatch <command> --help
      """, commands: commands.map { $0.spec })
  }

  /// Runs the tool with `arguments` (without the program name) and returns the exit code.
  public static func main(_ arguments: [String]) async -> Int32 {
    guard let first = arguments.first else {
      Console.err(overview)
      return 2
    }
    if first == "--help" || first == "-h" || first == "help" {
      Console.out(overview)
      return 0
    }
    if first == "--version" {
      Console.out("harmonybatch \(version)")
      return 0
    }
    guard let command = commands.first(where: { $0.spec.name == first }) else {
      Console.err("harmonybatch: unknown command '\(first)' (see 'harmonybatch --help')")
      return 2
    }
    let spec = command.spec.adding(LogOptions.specs)
    do {
      let options = try spec.parse(
        Array(arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
      if options.helpRequested {
        Console.out(spec.help)
        return 0
      }
      try LogOptions.configure(options)
      return try await command.run(options)
    } catch {
      switch classify(error) {
      case .usage(let message):
        Console.err("harmonybatch \(command.spec.name): \(message)")
        return 2
      case .failure(let message):
        // Why the command failed at run time, as its last log line (in the log format chosen).
        LogOutput.write(level: LogLevel.error.name, component: command.spec.name, message: message)
        return 1
      }
    }
  }

  /// What an error a command threw is: a mistake in how it was called (one line on standard
  /// error, exit code 2) — a usage error, bad planner input, a Kafka setting no client takes —
  /// or a failure at run time (exit code 1).
  enum Outcome: Equatable {
    case usage(String)
    case failure(String)
  }

  static func classify(_ error: any Error) -> Outcome {
    switch error {
    case let error as UsageError: .usage(error.message)
    case let error as PlannerInputError: .usage(error.message)
    case let error as KafkaError where error.code == .config: .usage(error.message)
    case let error as KafkaError: .failure(error.message)
    case let error as InferenceError: .failure(error.message)
    default: .failure("\(error)")
    }
  }
}
