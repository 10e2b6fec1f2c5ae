import Arguments
import Foundation
import Operations
import Planner

/// `harmonybatch plan`: run the planner on an apps file and a model profile and print the plan.
enum PlanCommand: Command {
  static let spec = CommandSpec(
    name: "plan",
    summary: "Plan which apps share a batch, on which function, with what batch and timeouts.",
    usage:
      "(--model NAME | --profile FILE) --apps FILE [--algorithm A] [--pricing P] [--format F]",
    options: [
      .option(
        "model", "NAME",
        "A built-in profile: \(ModelProfile.builtInNames.joined(separator: ", "))."),
      .option("profile", "FILE", "A profile file (Schemas/profile.schema.json) instead."),
      .option("apps", "FILE", #"The apps: {"apps":[{"id":"a","slo_ms":500,"rate":5.0}, ...]}."#),
      .option(
        "algorithm", "A",
        "optimal (default: the cheapest grouping by the expected bill — exact over all"
          + " partitions up to 12 apps, a local search beyond), harmony (the paper's two-stage"
          + " merge), batch (BATCH baseline), mbs (MBS+ baseline)."),
      .option(
        "pricing", "P",
        "A preset (\(PricingPreset.builtInNames.joined(separator: ", ")); default"
          + " \(PricingPreset.defaultName)) or a pricing file."),
      .option("format", "F", "table (default) or json (the documented plan object)."),
      .option(
        "gpu-max-margin", "X",
        "Multiplier on the time-sliced GPU maximum latency (default 1.2, as the authors' code)."),
    ],
    discussion: """
      The plan meets every app's SLO under the profile's maximum-latency model: each app waits
      at most its timeout in its group's buffer, and the batch's maximum latency fits in what
      is left. Apps that no function can serve are listed as infeasible, with the reason.
      Example:
        harmonybatch plan --model VGG19 --apps apps.json --format json
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let planner = try ModelOptions.planner(options)
    let algorithm = try options.choice("algorithm", default: Planner.Algorithm.optimal)
    let format = try options.choice("format", default: "table", from: ["table", "json"])
    let apps = try AppsFile.load(path: try options.required("apps"))
    let plan = try planner.plan(apps, algorithm: algorithm)
    Console.out(format == "json" ? try PlanReport.json(plan) : PlanReport.table(plan))
    return 0
  }
}
