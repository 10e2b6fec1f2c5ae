import Arguments
import Inference
import Operations
import Planner
import Simulator

/// `harmonybatch demo`: the system end to end on the embedded broker with a generated workload.
enum DemoCommand: Command {
  static let spec = CommandSpec(
    name: "demo",
    summary: "Run the system end to end on the embedded broker with a generated workload.",
    usage:
      "[--duration SECONDS] [--apps N] [--rate-scale X] [--seed N] [--processes [--autoscale]]",
    options: [
      .time(
        "duration", "How long requests are generated", default: DemoRun.Settings.defaultDuration),
      .option("apps", "N", "Applications, with SLOs spread over 0.3..1.0 s (default 8)."),
      .option(
        "rate-scale", "X",
        "Multiplies every app's rate (default: 1, about 42 req/s in all, mixed per app — less "
          + "when this machine's cores cannot serve that; 3 with --autoscale)."),
      .option("seed", "N", "Seed of the Poisson arrivals (default 1)."),
      .option("model-dir", "DIR", "The MiniLM model directory (default: the set-up cache)."),
      .flag(
        "processes",
        "Run the controller, the batcher and each worker as its own harmonybatch process on the "
          + "embedded broker, as a deployment does (logs in a temporary directory)."),
      .flag(
        "autoscale",
        "With --processes: workers of one slot, one replica per pool at first; add and remove "
          + "worker processes as hb.scaling asks (what KEDA does in a cluster), at most the "
          + "cores' worth for real MiniLM on CPU and the partitions for the GPU pool."),
      .time(
        "warm-up",
        "With --autoscale: send the workload this long first while the pools grow, and count "
          + "it apart",
        default: DemoRun.Settings.defaultWarmUp),
      .option(
        "emulate", "MODEL",
        "With --processes: every worker emulates MODEL's profile (e.g. VGG19) instead of running "
          + "MiniLM, and the topics have 8 partitions: a model whose batches take long enough "
          + "that the pools need many replicas, for scaling experiments on a small machine "
          + "(default rates: the demo's mix, --rate-scale 1)."),
      .option(
        "shape", "constant|diurnal|bursty",
        "The workload's rates follow this shape second by second over a --day-seconds day, as "
          + "simulate --closed-loop --shape does: diurnal, a sine from 1× rising to 1.7× and "
          + "falling to 0.3×; bursty, 4× in 5 % of the sixtieths of a day (default constant). "
          + "The workload chosen is then the shape's mean, its peak what the cores serve."),
      .option(
        "day-seconds", "SECONDS",
        "The day of --shape, compressed (default: --duration, the run one day)."),
      .option(
        "forecast", "on|off",
        "The controller plans on its rate forecast, learning a --day-seconds period "
          + "(controller --forecast on --forecast-period; default off)."),
      .time(
        "replica-start-seconds",
        "With --autoscale: a worker the demo adds serves only this long after it is started "
          + "(worker --start-delay: a cold start), and the controller is told so",
        default: .zero),
    ] + ServiceOptions.specs + KafkaOptions.clientSpecs,
    discussion: """
      Measures MiniLM on this machine (one thread, batch 1-4, well under a second) and scales
      the built-in minilm profile to it; sizes the CPU worker's slots to the cores and, unless
      --rate-scale is given, the workload to what those slots serve. Starts the embedded broker
      and, in this process, the controller, the router and batcher, one CPU worker running real
      MiniLM inference in those slots and one emulated GPU worker; the controller plans the apps
      with the 'optimal' planner and publishes the plan on hb.plans, then re-plans as it
      measures rates, latencies and transport, and recommends worker replicas on hb.scaling.
      Sends Poisson requests of every app (sentences to embed) for the given time, showing the
      live view every 5 s; waits for every request to end as a result, a dead letter or a late
      record, and prints a summary: per app, requests, p50/p99 latency and SLO attainment; every
      plan version and why it was published; the worker pools; the plan in force and its cost
      per request beside per-app CPU functions (BATCH) planned on the same model, rates and
      SLOs. Ctrl-C ends the workload early and still prints the summary.

      With --processes the controller, the batcher and the workers are separate harmonybatch
      processes on the embedded broker, as a deployment runs them. With --autoscale as well, the
      workers have one slot each and start at one replica per pool; the demo then does what KEDA
      does in a cluster, adding and removing worker processes as hb.scaling asks (at most the
      cores' worth for real MiniLM on CPU, the partitions for the GPU pool). The workload is sent
      first for --warm-up seconds while the pools grow (counted apart), then for --duration;
      the summary shows the replicas over time and the SLO attainment after the last change.

      Planning ahead as deployed: --shape diurnal --day-seconds 240 --duration 600 --forecast
      on|off --replica-start-seconds 30 runs two and a half compressed days against
      autoscaled workers that take 30 s to serve; the summary then gives the SLO attainment
      over the run, in the ramps (the rising half of each day), and from the second day on.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    var settings = DemoRun.Settings()
    settings.duration = try options.duration(
      "duration", default: DemoRun.Settings.defaultDuration,
      range: .seconds(1) ... .seconds(86_400))
    settings.appCount = try options.int("apps", default: 8, in: 1...1000)
    settings.rateScale = try options.double("rate-scale", in: 0.01...1000)
    settings.seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    settings.modelDirectory = try ModelLocator.directory(explicit: options.string("model-dir"))
    settings.logLevel = try KafkaOptions.logLevel(options)
    settings.properties = try KafkaOptions.configuration(options, bootstrap: "-").properties
    settings.metricsPort = try ServiceOptions.group(options).metricsPort
    settings.processes = options.flag("processes")
    settings.autoscale = options.flag("autoscale")
    settings.warmUp = try options.duration(
      "warm-up", default: DemoRun.Settings.defaultWarmUp, range: .zero ... .seconds(3_600))
    settings.shape = try options.choice("shape", default: Workload.Shape.constant)
    let day = try options.duration(
      "day-seconds", default: .zero, range: .zero ... .seconds(864_000))
    settings.day = day > .zero ? day : settings.duration
    settings.forecast = try options.choice("forecast", default: "off", from: ["on", "off"]) == "on"
    settings.replicaStart = try options.duration(
      "replica-start-seconds", default: .zero, range: .zero ... .seconds(600))
    if settings.forecast, settings.day < .seconds(240) {
      throw UsageError("--forecast on learns a day of at least 240 s; --day-seconds is shorter")
    }
    settings.emulate = options.string("emulate")
    if let model = settings.emulate {
      guard settings.processes else { throw UsageError("--emulate needs --processes") }
      do {
        _ = try Planner(model: model)
      } catch {
        throw UsageError("--emulate \(model): \(error)")
      }
    }
    if settings.replicaStart > .zero, !settings.autoscale {
      throw UsageError("--replica-start-seconds needs --processes --autoscale")
    }
    if settings.autoscale, !settings.processes {
      throw UsageError("--autoscale needs --processes (it starts and stops worker processes)")
    }
    if settings.processes, settings.metricsPort != nil {
      throw UsageError("--metrics-port serves the in-process demo; with --processes give none")
    }
    let summary = try await DemoRun(settings: settings).run()
    Console.out(summary.text)
    return summary.missing == 0 ? 0 : 1
  }
}
