import Foundation
import PipelineCore
import Planner

/// The whole closed loop in virtual time, driving the controller's own core (`ControllerCore`):
/// Poisson arrivals per app; the router's `RoutingTable` and the batcher's `GroupBuffers` under
/// the plan in force (applied a moment after the controller publishes it); batches that reach a
/// worker pool after a transport delay and wait for a free slot; latencies drawn from the true
/// profile (normal around its average, its maximum at the 99th percentile, times any scripted
/// slowdown); feedback, router reports and worker reports handed to the controller as the
/// services would send them; and, optionally, an autoscaler that brings a pool to the replicas
/// the controller recommends after a delay. Invocations are billed on the latency drawn.
///
/// With `fixedPlan`, the controller is left out: the plan stays in force the whole run (the
/// open-loop yardstick).
public struct ClosedLoopSimulation: Sendable {
  public let scenario: ClosedLoopScenario

  public init(scenario: ClosedLoopScenario) {
    self.scenario = scenario
  }

  /// Simulated seconds between controller ticks, router reports and worker reports.
  static let tick = 1.0
  /// From a plan's publication to routers and batchers following it.
  static let planDelay = 0.05
  /// The batcher flushes this early, as `BatcherService`'s default margin.
  static let flushMargin = 0.005

  private enum Event {
    case arrival(app: Int, epoch: Int)
    case deadline
    case received(batch: Int)
    case finished(batch: Int)
    case controllerTick
    case reports
    case planApplied(Plan)
    case scripted(Int)
    case burstEnds
    case replicasUp(FunctionConfig.Kind, count: Int)
    /// A rebalance of the pool's group is over: its moved partitions are read again.
    case rebalanced(FunctionConfig.Kind)
    /// A second of the scenario's shape begins: the rates follow it.
    case shapeStep
  }

  private struct Request {
    var app: Int
    var arrival: Double
    var slo: Double
  }

  private struct Batch {
    var id: Int
    var spec: GroupSpec
    var requests: [Request]
    var flushed: Double
    var received = 0.0
    var started = 0.0
    var partition = 0
    var lane = 0
  }

  /// Batches waiting for the slots that may run them: a whole pool's (no partitions), or one
  /// replica's (the partitions it holds).
  private struct Lane {
    var slots: Int
    var busy = 0
    var waiting: [Int] = []
    var head = 0
    var usage: SlotUsage

    var backlog: Int { waiting.count - head }
  }

  private struct PoolState {
    var kind: FunctionConfig.Kind
    var config: ClosedLoopScenario.Pool
    var lanes: [Lane]
    /// Which replica reads each partition of the batch topic (nil: one lane for the whole pool).
    var assignment: PartitionAssignment?
    /// Until when each partition is paused by a rebalance that moved it.
    var pausedUntil: [Double] = []
    /// Replicas an autoscaler started that are not up yet.
    var starting = 0

    var slots: Int { config.slots }
    var backlog: Int { lanes.reduce(0) { $0 + $1.backlog } }

    init(
      kind: FunctionConfig.Kind, config: ClosedLoopScenario.Pool, partitions: Int?, at now: Double
    ) {
      self.kind = kind
      self.config = config
      if let partitions, partitions > 0 {
        assignment = PartitionAssignment(partitions: partitions, replicas: config.replicas)
        pausedUntil = Array(repeating: 0, count: partitions)
      }
      lanes = []
      relayout(at: now, received: [:])
    }

    /// The lane that reads `partition` now.
    func lane(of partition: Int) -> Int {
      guard let assignment, partition < assignment.owners.count else { return 0 }
      return assignment.owners[partition]
    }

    /// Whether `partition` is paused at `now` by a rebalance.
    func paused(_ partition: Int, at now: Double) -> Bool {
      partition < pausedUntil.count && pausedUntil[partition] > now + 1e-12
    }

    /// Lanes for the replicas there are now: the partitions are rebalanced the sticky way (those
    /// that move are paused for `rebalance` seconds), the waiting batches go to their
    /// partitions' owners (oldest first, as the new owner reads them again); running batches
    /// finish where they are.
    mutating func relayout(
      at now: Double, received: [Int: (partition: Int, at: Double)], rebalance: Double = 0
    ) {
      let count = assignment == nil ? 1 : max(1, config.replicas)
      let slots = assignment == nil ? config.slots : config.slotsPerReplica
      if assignment != nil {
        for partition in assignment!.rebalance(replicas: count) where rebalance > 0 {
          pausedUntil[partition] = max(pausedUntil[partition], now + rebalance)
        }
      }
      let waiting = lanes.flatMap { $0.waiting[$0.head...] }.sorted {
        (received[$0]?.at ?? 0, $0) < (received[$1]?.at ?? 0, $1)
      }
      var next = (0..<count).map { index in
        var lane =
          index < lanes.count
          ? lanes[index] : Lane(slots: slots, usage: SlotUsage(slots: slots, start: now))
        lane.slots = slots
        lane.usage.slots = slots
        lane.waiting = []
        lane.head = 0
        return lane
      }
      lanes = next
      for id in waiting { next[lane(of: received[id]?.partition ?? 0)].waiting.append(id) }
      lanes = next
    }

  }

  public func run(fixedPlan: Plan? = nil) -> ClosedLoopResult {
    var engine = Engine(scenario: scenario, fixedPlan: fixedPlan)
    return engine.run()
  }

  private struct Engine {
    let scenario: ClosedLoopScenario
    let fixedPlan: Plan?
    var queue = EventQueue<Event>()
    var result = ClosedLoopResult()
    var random: SeededRandom
    var latencyRandom: SeededRandom
    var controller: ControllerCore?
    let routerPlanner: Planner
    var routing: RoutingTable
    var buffers = GroupBuffers<Int>(latePolicy: .divert)
    var batches: [Batch] = []
    /// Every request routed to a buffer, by index (the buffers' items).
    var requests: [Request] = []
    var pools: [FunctionConfig.Kind: PoolState] = [:]
    var rateFactor = 1.0
    /// The scenario's shape this second.
    var shapeFactor = 1.0
    var slowdown = 1.0
    /// The functions' true latencies now (scripted slowdowns included).
    var truth: LatencyModel
    let cost: CostModel
    var epoch = 0
    var report = RouterReport()
    var lastReport = 0.0
    var scheduledDeadline: Double?
    var lastScaling: [String: ScalingRecommendation] = [:]
    /// The fastest each function has run a batch: the workers' lower bound for shedding.
    var floors = InferenceFloor()

    init(scenario: ClosedLoopScenario, fixedPlan: Plan?) {
      self.scenario = scenario
      self.fixedPlan = fixedPlan
      random = SeededRandom(seed: scenario.seed)
      latencyRandom = SeededRandom(seed: scenario.seed &+ 0x5EED)
      let prior = scenario.prior ?? scenario.truth
      routerPlanner = Planner(profile: prior, pricing: scenario.pricing)
      routing = RoutingTable(plan: fixedPlan, planner: routerPlanner)
      truth = LatencyModel(profile: scenario.truth)
      cost = CostModel(profile: scenario.truth, pricing: scenario.pricing)
      if fixedPlan == nil {
        var settings = ControllerCore.Settings(prior: prior, pricing: scenario.pricing)
        settings.apps = scenario.knownApps ?? scenario.apps
        settings.policy = scenario.policy
        settings.rateWindow = scenario.rateWindow
        settings.scaler.targetUtilisation = scenario.targetUtilisation
        if let partitions = scenario.partitions {
          settings.batchPartitions = [.cpu: partitions, .gpu: partitions]
        }
        settings.forecast = scenario.forecast
        settings.forecaster = scenario.forecaster
        // From a recommendation to a replica serving: the autoscaler's delay and the cold start.
        settings.replicaStart = .seconds(scenario.autoscaleDelay ?? 0) + scenario.replicaStart
        controller = ControllerCore(settings: settings)
      } else {
        result.plans = [fixedPlan!]
      }
      for (kind, pool) in scenario.pools {
        pools[kind] = PoolState(kind: kind, config: pool, partitions: scenario.partitions, at: 0)
      }
      shapeFactor = scenario.factor(at: 0.5)
    }

    mutating func run() -> ClosedLoopResult {
      result.seconds = Array(repeating: .init(), count: Int(scenario.duration.rounded(.up)) + 1)
      for index in scenario.apps.indices { scheduleArrival(index, after: 0) }
      for (index, event) in scenario.events.enumerated() {
        queue.schedule(.scripted(index), at: event.time)
      }
      if controller != nil { queue.schedule(.controllerTick, at: 0) }
      queue.schedule(.reports, at: ClosedLoopSimulation.tick)
      if scenario.shape != .constant { queue.schedule(.shapeStep, at: 1) }
      let end = scenario.duration + 30
      while let (time, event) = queue.next(), time <= end {
        handle(event, at: time)
      }
      result.finalReplicas = pools.mapValues(\.config.replicas)
      if let controller { result.versions = controller.history }
      return result
    }

    // MARK: Arrivals, routing, batching

    mutating func scheduleArrival(_ app: Int, after time: Double) {
      let rate = scenario.apps[app].rate * rateFactor * shapeFactor
      guard rate > 0 else { return }
      let next = time + random.exponential(rate: rate)
      guard next < scenario.duration else { return }
      queue.schedule(.arrival(app: app, epoch: epoch), at: next)
    }

    mutating func arrive(_ index: Int, at now: Double) {
      let app = scenario.apps[index]
      let request = Request(app: index, arrival: now, slo: app.slo)
      result.requests += 1
      result.seconds[Int(now)].requests += 1
      switch routing.route(app: app.id, sloMs: app.slo * 1000) {
      case .reject:
        result.rejected += 1
      case .group(let spec, let slo, let timeout, let planned):
        report.count(app: app.id, sloMs: slo * 1000, planned: planned)
        requests.append(request)
        execute(
          buffers.receive(
            BufferedRequest(
              id: "", app: app.id, arrival: now, slo: slo,
              timeout: max(0, timeout - ClosedLoopSimulation.flushMargin), item: requests.count - 1),
            in: spec, now: now), at: now)
      }
      scheduleDeadline()
    }

    mutating func scheduleDeadline() {
      guard let next = buffers.nextDeadline else { return }
      if let scheduled = scheduledDeadline, scheduled <= next { return }
      scheduledDeadline = next
      queue.schedule(.deadline, at: next)
    }

    mutating func execute(_ directives: [BatchingDirective<Int>], at now: Double) {
      for directive in directives {
        switch directive {
        case .dispatch(let ready):
          let id = batches.count
          batches.append(
            Batch(
              id: id, spec: ready.spec, requests: ready.requests.map { requests[$0.item] },
              flushed: now))
          let delay =
            scenario.transport.base
            + random.exponential(rate: 1 / max(1e-6, scenario.transport.jitter))
          queue.schedule(.received(batch: id), at: now + delay)
        case .divert:
          result.late += 1
        }
      }
    }

    // MARK: Workers

    mutating func receive(_ id: Int, at now: Double) {
      batches[id].received = now
      let kind = batches[id].spec.function.kind
      guard let pool = pools[kind] else {
        // No pool of this kind at all: the batch waits forever (counted as missed at the end).
        return
      }
      if let partitions = scenario.partitions, partitions > 0 {
        // The producer's key hash: the group's (keyed batches) or the batch's own id.
        let key = scenario.keyedBatches ? Self.hash(batches[id].spec.key.group) : UInt64(id)
        batches[id].partition = Int((key &* 0x9E37_79B9_7F4A_7C15) >> 33) % partitions
      }
      let lane = pool.lane(of: batches[id].partition)
      pools[kind]!.lanes[lane].waiting.append(id)
      startWaiting(kind, lane: lane, at: now)
    }

    /// A stable hash of a group id (FNV-1a).
    static func hash(_ text: String) -> UInt64 {
      text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    mutating func startWaiting(_ kind: FunctionConfig.Kind, at now: Double) {
      for lane in pools[kind]?.lanes.indices ?? 0..<0 { startWaiting(kind, lane: lane, at: now) }
    }

    mutating func startWaiting(_ kind: FunctionConfig.Kind, lane index: Int, at now: Double) {
      while var pool = pools[kind], index < pool.lanes.count,
        pool.lanes[index].busy < pool.lanes[index].slots,
        let next = nextBatch(in: pool, lane: index, at: now)
      {
        var lane = pool.lanes[index]
        let id = lane.waiting[next]
        if next == lane.head {
          lane.head += 1
        } else {
          // Batches of a partition a rebalance paused wait; later ones of others go first.
          lane.waiting.remove(at: next)
        }
        if lane.head > 1024 {
          lane.waiting.removeFirst(lane.head)
          lane.head = 0
        }
        if scenario.shedLate {
          let verdict = LateShedding.verdict(
            requests: batches[id].requests.map { ($0.arrival, $0.slo, false) }, started: now,
            floor: floors.seconds(for: batches[id].spec.function), policy: .shed)
          if !verdict.shed.isEmpty {
            result.shed += verdict.shed.count
            batches[id].requests = verdict.run.map { batches[id].requests[$0] }
          }
          if batches[id].requests.isEmpty {
            // Nothing left to run: the slot stays free.
            pool.lanes[index] = lane
            pools[kind] = pool
            continue
          }
        }
        lane.busy += 1
        let waited = now - batches[id].received
        lane.usage.started(id, at: now, waited: waited)
        pool.lanes[index] = lane
        pools[kind] = pool
        if waited > 1e-9 { result.queuedBatches += 1 }
        result.longestQueueWait = max(result.longestQueueWait, waited)
        batches[id].started = now
        batches[id].lane = index
        queue.schedule(.finished(batch: id), at: now + draw(batches[id]))
      }
    }

    /// Where in its lane's queue the next batch `lane` may start is: the oldest one whose
    /// partition no rebalance is holding (nil: none).
    func nextBatch(in pool: PoolState, lane index: Int, at now: Double) -> Int? {
      let lane = pool.lanes[index]
      return lane.waiting[lane.head...].firstIndex { !pool.paused(batches[$0].partition, at: now) }
    }

    /// The pool of `kind` has `replicas` now: lanes follow, the partitions that move pause for
    /// the rebalance, waiting batches move to their partitions' new owners.
    mutating func resize(_ kind: FunctionConfig.Kind, replicas: Int, at now: Double) {
      guard var pool = pools[kind] else { return }
      pool.config.replicas = replicas
      var received: [Int: (partition: Int, at: Double)] = [:]
      for lane in pool.lanes {
        for id in lane.waiting[lane.head...] {
          received[id] = (batches[id].partition, batches[id].received)
        }
      }
      pool.relayout(at: now, received: received, rebalance: scenario.rebalanceSeconds)
      pools[kind] = pool
      if scenario.rebalanceSeconds > 0, pool.assignment != nil {
        queue.schedule(.rebalanced(kind), at: now + scenario.rebalanceSeconds)
      }
      startWaiting(kind, at: now)
    }

    mutating func draw(_ batch: Batch) -> Double {
      let function = batch.spec.function
      let b = batch.requests.count
      let predicted =
        function.kind == .cpu
        ? truth.cpu(vcpu: function.vcpu, batch: min(b, truth.profile.cpu.maxBatch))
        : truth.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: b)
      return predicted.drawn(z: latencyRandom.normal())
    }

    mutating func finish(_ id: Int, at now: Double) {
      let batch = batches[id]
      let kind = batch.spec.function.kind
      if batch.lane < pools[kind]!.lanes.count {
        pools[kind]!.lanes[batch.lane].busy = max(0, pools[kind]!.lanes[batch.lane].busy - 1)
        pools[kind]!.lanes[batch.lane].usage.finished(id, at: now, requests: batch.requests.count)
      }
      let published = now + scenario.transport.publish
      var endToEnd: [Double] = []
      for request in batch.requests {
        let latency = published - request.arrival
        endToEnd.append(latency * 1000)
        if latency <= request.slo + 1e-9 {
          result.within += 1
          result.seconds[min(result.seconds.count - 1, Int(request.arrival))].within += 1
        }
      }
      let seconds = now - batch.started
      floors.observe(batch.spec.function, seconds: seconds)
      let function = batch.spec.function
      let b = batch.requests.count
      let perRequest =
        function.kind == .cpu
        ? cost.cpuCostPerRequest(vcpu: function.vcpu, batch: b, avgLatency: seconds)
        : cost.gpuCostPerRequest(memoryGB: function.gpuMemoryGB, batch: b, avgLatency: seconds)
      let billed = (perRequest ?? 0) * Double(b)
      result.billed += billed
      result.seconds[min(result.seconds.count - 1, Int(now))].billed += billed
      result.batches += 1
      controller?.receive(
        feedback: FeedbackMessage(
          batchID: "b\(id)", group: batch.spec.key.group, planVersion: batch.spec.key.planVersion,
          function: function, backend: "emulated-\(kind.rawValue)", emulated: true, batchSize: b,
          inferenceSeconds: seconds, predictedMaxMs: batch.spec.latencyMax * 1000,
          endToEndMs: endToEnd, worker: "\(kind.rawValue)-pool",
          workerGroup: "hb-workers-\(kind.rawValue)", flushedMs: batch.flushed * 1000,
          receivedMs: batch.received * 1000, startedMs: batch.started * 1000,
          finishedMs: now * 1000, publishedMs: published * 1000, billedCost: billed))
      startWaiting(kind, lane: batch.lane, at: now)
    }

    // MARK: Reports and the controller

    /// What the run looks like at `now`: the rates offered, planned on and sized for, the
    /// forecast, and the replicas up and starting, which count as replica-seconds.
    mutating func sample(at now: Double) {
      guard now <= scenario.duration else { return }
      let offered = scenario.apps.reduce(0) { $0 + $1.rate } * rateFactor * shapeFactor
      var sample = ClosedLoopResult.Sample(time: now, rate: offered)
      if let controller {
        sample.planned = controller.plannedRates.values.reduce(0, +)
        sample.scaled = controller.scaledRates.values.reduce(0, +)
        if controller.settings.forecast {
          sample.forecast = scenario.apps.reduce(0) {
            $0 + (controller.rateForecast(of: $1.id).first?.mean ?? 0)
          }
        }
      }
      for (kind, pool) in pools {
        sample.replicas[kind] = pool.config.replicas
        sample.starting[kind] = pool.starting
        result.replicaSeconds[kind, default: 0] +=
          Double(pool.config.replicas + pool.starting) * ClosedLoopSimulation.tick
      }
      result.timeline.append(sample)
    }

    mutating func sendReports(at now: Double) {
      sample(at: now)
      if controller != nil, !report.isEmpty {
        let message = RatesMessage(
          router: "router", planVersion: routing.version, windowStartMs: lastReport * 1000,
          windowEndMs: now * 1000, apps: report.apps, rejected: report.rejected)
        _ = controller!.receive(rates: message)
      }
      report = RouterReport()
      lastReport = now
      for kind in pools.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
        var pool = pools[kind]!
        let windows = pool.lanes.indices.map { pool.lanes[$0].usage.close(at: now) }
        pools[kind] = pool
        guard controller != nil else { continue }
        let replicas = max(1, pool.config.replicas)
        for replica in 0..<pool.config.replicas {
          let report: WorkerReport
          if let assignment = pool.assignment {
            // Each replica reports its own lane: its slots, waits, backlog, partitions.
            let partitions = assignment.owners.count
            let window = windows[replica]
            let lane = pool.lanes[replica]
            let held = assignment.held(by: replica)
            let waiting = lane.waiting[lane.head...].map { batches[$0].partition }
            report = WorkerReport(
              worker: "\(kind.rawValue)-\(replica)", group: "hb-workers-\(kind.rawValue)",
              kind: kind, backend: "emulated-\(kind.rawValue)", emulated: true,
              slots: pool.config.slotsPerReplica, cores: nil, windowStartMs: window.start * 1000,
              windowEndMs: window.end * 1000, busySlots: window.busySlots,
              batches: window.batches, requests: window.requests,
              queueWaitMs: Percentiles.of(window.queueWaits.map { $0 * 1000 }),
              backlog: lane.backlog, lag: 0,
              partitions: held.map { partition in
                WorkerReport.PartitionLoad(
                  partition: Int32(partition),
                  backlog: waiting.filter { $0 == partition }.count, lag: 0)
              }, topicPartitions: partitions)
          } else {
            // One report per replica, the pool's load shared evenly among them.
            let window = windows[0]
            let share = 1 / Double(replicas)
            let waits = window.queueWaits.enumerated().filter { $0.offset % replicas == replica }
              .map { $0.element * 1000 }
            report = WorkerReport(
              worker: "\(kind.rawValue)-\(replica)", group: "hb-workers-\(kind.rawValue)",
              kind: kind, backend: "emulated-\(kind.rawValue)", emulated: true,
              slots: pool.config.slotsPerReplica, cores: nil, windowStartMs: window.start * 1000,
              windowEndMs: window.end * 1000, busySlots: window.busySlots * share,
              batches: window.batches / replicas, requests: window.requests / replicas,
              queueWaitMs: Percentiles.of(waits), backlog: pool.backlog / replicas, lag: 0)
          }
          controller!.receive(workers: report, at: now)
        }
      }
    }

    mutating func tickController(at now: Double) {
      guard var controller else { return }
      let directives = controller.tick(now: now)
      self.controller = controller
      for directive in directives {
        switch directive {
        case .publishPlan(let plan):
          result.plans.append(plan)
          queue.schedule(.planApplied(plan), at: now + ClosedLoopSimulation.planDelay)
        case .publishScaling(let recommendations):
          for recommendation in recommendations { consider(recommendation, at: now) }
        case .log: break
        }
      }
    }

    mutating func consider(_ recommendation: ScalingRecommendation, at now: Double) {
      let before = lastScaling[recommendation.group]
      if before?.status != recommendation.status
        || before?.desiredReplicas != recommendation.desiredReplicas
      {
        result.scaling.append(
          .init(
            time: now, group: recommendation.group, status: recommendation.status,
            desiredReplicas: recommendation.desiredReplicas, replicas: recommendation.replicas,
            slotsNeeded: recommendation.slotsNeeded))
      }
      lastScaling[recommendation.group] = recommendation
      guard let delay = scenario.autoscaleDelay, var pool = pools[recommendation.kind] else {
        return
      }
      // An autoscaler keeping one replica at least (as an HPA's minimum): new replicas are up
      // `delay` after it asks for them; surplus ones go at once (their batches finish first).
      let target = max(1, recommendation.desiredReplicas)
      let planned = pool.config.replicas + pool.starting
      // "No worker reports" is not a reason to remove the replicas there are.
      if target < planned, recommendation.status == .noWorkers { return }
      if target > planned {
        pool.starting += target - planned
        queue.schedule(
          .replicasUp(recommendation.kind, count: target - planned),
          at: now + delay + scenario.replicaStart.seconds)
      } else if target < planned {
        var surplus = planned - target
        let cancelled = min(surplus, pool.starting)
        pool.starting -= cancelled
        surplus -= cancelled
        pools[recommendation.kind] = pool
        resize(recommendation.kind, replicas: pool.config.replicas - surplus, at: now)
        return
      }
      pools[recommendation.kind] = pool
    }

    // MARK: The event loop

    mutating func handle(_ event: Event, at now: Double) {
      switch event {
      case .arrival(let app, let arrivalEpoch):
        guard arrivalEpoch == epoch else { return }
        arrive(app, at: now)
        scheduleArrival(app, after: now)
      case .deadline:
        if scheduledDeadline == now { scheduledDeadline = nil }
        execute(buffers.advance(to: now), at: now)
        scheduleDeadline()
      case .received(let batch):
        receive(batch, at: now)
      case .finished(let batch):
        finish(batch, at: now)
      case .controllerTick:
        tickController(at: now)
        queue.schedule(.controllerTick, at: now + ClosedLoopSimulation.tick)
      case .reports:
        sendReports(at: now)
        queue.schedule(.reports, at: now + ClosedLoopSimulation.tick)
      case .planApplied(let plan):
        routing = RoutingTable(plan: plan, planner: routerPlanner)
      case .scripted(let index):
        apply(scenario.events[index], at: now)
      case .burstEnds:
        rateFactor = 1
        restartArrivals(at: now)
      case .replicasUp(let kind, let count):
        // Starts that were cancelled meanwhile do not come up.
        let up = min(count, pools[kind]!.starting)
        pools[kind]!.starting -= up
        resize(kind, replicas: pools[kind]!.config.replicas + up, at: now)
      case .rebalanced(let kind):
        startWaiting(kind, at: now)
      case .shapeStep:
        shapeFactor = scenario.factor(at: now + 0.5)
        restartArrivals(at: now)
        if now + 1 < scenario.duration { queue.schedule(.shapeStep, at: now + 1) }
      }
    }

    mutating func apply(_ event: ClosedLoopScenario.Event, at now: Double) {
      switch event {
      case .burst(_, let factor, let duration):
        rateFactor = factor
        restartArrivals(at: now)
        queue.schedule(.burstEnds, at: now + duration)
      case .slowdown(_, let factor):
        slowdown *= factor
        truth = LatencyModel(profile: scenario.truth.scaled(by: slowdown))
      case .poolCut(_, let kind, let factor):
        guard let pool = pools[kind] else { return }
        resize(
          kind, replicas: max(1, Int((Double(pool.config.replicas) * factor).rounded(.down))),
          at: now)
      }
    }

    /// New arrival streams at the current rates (Poisson arrivals are memoryless).
    mutating func restartArrivals(at now: Double) {
      epoch += 1
      for index in scenario.apps.indices { scheduleArrival(index, after: now) }
    }
  }
}
