import Arguments
import Operations
import Planner
import Simulator

/// `harmonybatch simulate`: replay a workload through the planners in virtual time.
enum SimulateCommand: Command {
  static let spec = CommandSpec(
    name: "simulate",
    summary: "Replay a workload through the planners in virtual time and compare them.",
    usage:
      "--model M (--apps FILE | --generate N) [--trace CSV] [--algorithms A,B] ... | --model M --closed-loop [--pool cpu=N] [--burst AT:X:S] ...",
    options: [
      .option("model", "NAME", "A built-in profile (or --profile FILE)."),
      .option("profile", "FILE", "A profile file."),
      .option("pricing", "P", "Pricing preset or file (default alibaba-cny)."),
      .option("apps", "FILE", "The apps (ids, SLOs, base rates)."),
      .option(
        "generate", "N",
        "N random apps instead: SLOs as the paper for the model, heavy-tailed rates."),
      .option("trace", "CSV", "Per-minute rates: minute,app,rate lines."),
      .option(
        "shape", "S",
        "Without a trace: constant (default), diurnal or bursty. Closed loop too: the rates "
          + "follow it second by second (see --day-seconds)."),
      .option("algorithms", "LIST", "Comma-separated (default harmony,batch,mbs,optimal)."),
      .option("minutes", "N", "Minutes to simulate (default 60)."),
      .option("seed", "N", "Seed of arrivals and latencies (default 1)."),
      .option("rate-scale", "X", "Multiplies every app's rate (default 1)."),
      .option(
        "out", "DIR",
        "Write results.csv, results.json, cost.svg, violations.svg, cost-over-time.svg; closed "
          + "loop: the timeline of each run as CSV and closed-loop.svg."),
      .flag(
        "paper",
        "The paper's setting: 4 models × 8 apps (heavy-tailed rates), every algorithm; one table."),
    ] + ClosedLoopCommand.options,
    discussion: """
      Poisson arrivals per app at each minute's rate; the plan is remade every minute; batches
      go through the same GroupBuffers state machine the batcher runs, flushed when full or at
      the earliest personal deadline; each batch's latency is drawn from the profile (normal,
      its maximum at the 99th percentile) and billed by the pricing preset on what it took.
      Reports per algorithm: cost, cost per request, SLO violations, GPU share, batch sizes
      and re-plans. The same seed gives the same results.

      With --closed-loop, the controller's own decision core plans instead: routers' reports,
      workers' feedback (transport, waiting for a slot, inference) and worker reports go to it
      each second as the services would send them; its plans reach the router and batcher 50 ms
      after it publishes them; batches queue for the slots of finite pools (--pool); an
      autoscaler (--autoscale) can follow its scaling recommendations. Scripted --burst,
      --slowdown and --pool-cut events test how the loop reacts. Without --apps, the demo's eight
      apps at twice their rates. Prints the plan versions and why, the scaling recommendations,
      attainment and cost every 10 s, and the bill against the plan made on the true rates.
      Planning ahead: --shape diurnal or bursty over a --day-seconds day, replicas that take
      --replica-start-seconds to serve, the controller's rate forecast --forecast on, off or
      both; each run says its SLO attainment over the run and in the ramps (rising half-days,
      bursts), its replica-seconds and its bill.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    if options.flag("closed-loop") { return try ClosedLoopCommand.run(options) }
    if options.flag("paper") {
      var evaluation = PaperEvaluation(
        minutes: try options.int("minutes", default: 60, in: 1...100_000),
        seed: UInt64(try options.int("seed", default: 1, in: 0...Int.max)))
      evaluation.rateScale = try options.double("rate-scale", default: 1, in: 0.001...1000)
      let rows = try evaluation.run()
      let report = evaluation.report(rows)
      Console.out(report.heading)
      Console.out(report.tables)
      if let directory = options.string("out") {
        try PaperEvaluation.write(rows, tables: report.tables, to: directory)
        Console.err("simulate: wrote paper.txt and per-model results to \(directory)")
      }
      return 0
    }
    let planner = try ModelOptions.planner(options)
    let minutes = try options.int("minutes", default: 60, in: 1...100_000)
    let seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    var apps: [App]
    switch (options.string("apps"), options.string("generate")) {
    case (let path?, nil): apps = try AppsFile.load(path: path)
    case (nil, _?):
      apps = SimulationReport.generatedApps(
        count: try options.int("generate", default: 8, in: 1...100_000),
        model: planner.profile.name, seed: seed)
    case (nil, nil): throw UsageError("'simulate' needs --apps FILE or --generate N")
    case (_?, _?): throw UsageError("give --apps or --generate, not both")
    }
    let scale = try options.double("rate-scale", default: 1, in: 0.001...1000)
    apps = apps.map { App(id: $0.id, slo: $0.slo, rate: $0.rate * scale) }
    let workload: Workload
    if let path = options.string("trace") {
      workload = try Workload.trace(path: path, apps: apps, minutes: minutes)
    } else {
      let shape = try options.choice("shape", default: Workload.Shape.constant)
      workload = Workload.generated(apps: apps, minutes: minutes, shape: shape, seed: seed)
    }
    let algorithms = try SimulationReport.algorithms(named: options.list("algorithms"))
    let simulation = Simulation(planner: planner, workload: workload, seed: seed)
    let (results, table) = try SimulationReport.compare(simulation, algorithms: algorithms)
    Console.out(
      "simulate: \(planner.profile.name), \(apps.count) apps, \(minutes) minutes, "
        + "pricing \(planner.pricing.name), seed \(seed)\n")
    Console.out(table)
    if let directory = options.string("out") {
      try SimulationReport.write(
        results, to: directory, title: "\(planner.profile.name), \(apps.count) apps")
      Console.err("simulate: wrote results.csv, results.json and three SVG charts to \(directory)")
    }
    return 0
  }
}
