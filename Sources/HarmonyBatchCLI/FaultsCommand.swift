import Arguments
import Operations

/// `harmonybatch faults`: the fault suite — the services as processes on an embedded broker,
/// faults injected in turn under steady load and bad records, then a soak; prints what happened
/// to every request and exits 1 when any was lost or duplicated, a stage stalled, a service
/// exited without saying why, or memory grew.
enum FaultsCommand: Command {
  static let spec = CommandSpec(
    name: "faults",
    summary:
      "Run the fault suite: kills, broker faults and poison records under load, then a soak.",
    usage:
      "[--fault-seconds SECONDS] [--soak-seconds SECONDS] [--rate R] [--fault-every SECONDS] "
      + "[--seed N]",
    options: [
      .time(
        "fault-seconds", "Length of the fault phase", default: FaultSuite.Settings.defaultFaultPhase
      ),
      .time(
        "soak-seconds", "Length of the soak after it, load and no faults",
        default: FaultSuite.Settings.defaultSoak),
      .option("rate", "R", "Requests per second of the three apps together (default 30)."),
      .time(
        "fault-every", "Seconds between faults", default: FaultSuite.Settings.defaultFaultEvery),
      .option("seed", "N", "Seed of arrivals and poison records (default 1)."),
    ],
    discussion: """
      Starts an embedded broker in this process and the services as child processes of this
      binary: controller (with router and planner), batcher, an emulated CPU worker and an
      emulated GPU worker. Requests of three apps (the paper's Table I SLOs) arrive as a Poisson
      stream. Every --fault-every seconds one fault, in turn: SIGKILL of the batcher, the CPU
      worker, the GPU worker or the controller and a restart a second later; the broker down for
      5 s; ten produce requests failed by the broker; a network 300 ms slower for 10 s. Every
      second a bad record: a request that must end as one dead letter with a known reason
      (2 MB value, hex or overflowing SLO, non-UTF-8 key, no key, no SLO), or a malformed or
      numerically absurd record on an internal topic (grouped, batches, plans, feedback, rates,
      worker reports). The soak then keeps the load without faults and samples each service's
      resident memory every 5 s.
      At the end every request id must have exactly one outcome (result, late or dead letter),
      every bad request its own reason, no stage a stall (30 s without any outcome while
      requests wait, outside a broker outage), no service ending on its own (none may take a
      fault for fatal; an exit is reported with whether it said why), and no service more than
      32 MB of growth over the soak. Logs of the services
      are kept in a temporary folder named at the start.
      Example: harmonybatch faults --fault-seconds 60 --soak-seconds 30
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    var settings = FaultSuite.Settings()
    settings.faultPhase = try options.duration(
      "fault-seconds", default: FaultSuite.Settings.defaultFaultPhase,
      range: .zero ... .seconds(86_400))
    settings.soak = try options.duration(
      "soak-seconds", default: FaultSuite.Settings.defaultSoak, range: .zero ... .seconds(86_400))
    settings.rate = try options.double("rate", default: settings.rate, in: 1...2000)
    settings.faultEvery = try options.duration(
      "fault-every", default: FaultSuite.Settings.defaultFaultEvery,
      range: .seconds(5) ... .seconds(3_600))
    settings.seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    let outcome = await FaultSuite.run(settings: settings, progress: Console.err)
    if let table = outcome.table { Console.out(table) }
    return outcome.code
  }
}
