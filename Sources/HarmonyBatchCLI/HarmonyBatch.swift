import Arguments
import Foundation
import Inference
import Kafka
import Logging
import Operations
import Planner

/// The command-line tool: picks the command and maps errors to exit codes (2 for usage, 1 for
/// failures at run time).
public enum HarmonyBatch {
  static let version = "0.1.0"

  struct Command: Sendable {
    let spec: CommandSpec
    let run: @Sendable (ParsedOptions) async throws -> Int32
  }

  static let commands: [Command] = [
    Command(spec: DemoCommand.spec, run: DemoCommand.run),
    Command(spec: PlanCommand.spec, run: PlanCommand.run),
    Command(spec: BatcherCommand.spec, run: BatcherCommand.run),
    Command(spec: WorkerCommand.spec, run: WorkerCommand.run),
    Command(spec: ProfileCommand.spec, run: ProfileCommand.run),
    Command(spec: ControllerCommand.spec, run: ControllerCommand.run),
    Command(spec: ProduceCommand.spec, run: ProduceCommand.run),
    Command(spec: WatchCommand.spec, run: WatchCommand.run),
    Command(spec: SimulateCommand.spec, run: SimulateCommand.run),
    Command(spec: BrokerCommand.spec, run: BrokerCommand.run),
    Command(spec: TopicsCommand.spec, run: TopicsCommand.run),
    Command(spec: ConsumeCommand.spec, run: ConsumeCommand.run),
    Command(spec: BenchCommand.spec, run: BenchCommand.run),
    Command(spec: FaultsCommand.spec, run: FaultsCommand.run),
  ]

  static var overview: String {
    var text = """
      harmonybatch \(version) — batch multi-SLO DNN inference requests on Kafka onto right-sized
      CPU and GPU functions (HarmonyBatch, IWQoS 2024).

      Usage: harmonybatch <command> [options]     harmonybatch <command> --help

      Commands:

      """
    // The name column is as wide as the longest name plus two spaces.
    let width = commands.map(\.spec.name.count).max()! + 2
    for command in commands {
      text +=
        "  " + command.spec.name.padding(toLength: width, withPad: " ", startingAt: 0)
        + command.spec.summary + "\n"
    }
    return text
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
    } catch let error as UsageError {
      Console.err("harmonybatch \(command.spec.name): \(error.message)")
      return 2
    } catch let error as InferenceError {
      fail(command, error.message)
      return 1
    } catch let error as PlannerInputError {
      Console.err("harmonybatch \(command.spec.name): \(error.message)")
      return 2
    } catch let error as KafkaError {
      if error.code == .config {
        Console.err("harmonybatch \(command.spec.name): \(error.message)")
        return 2
      }
      fail(command, error.message)
      return 1
    } catch {
      fail(command, "\(error)")
      return 1
    }
  }

  /// Why a command failed at run time, as its last log line (in the log format chosen).
  private static func fail(_ command: Command, _ message: String) {
    LogOutput.write(level: LogLevel.error.name, component: command.spec.name, message: message)
  }
}
