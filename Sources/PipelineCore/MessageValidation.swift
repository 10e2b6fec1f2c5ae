import Planner

/// One validation per internal message type, next to its schema (`Schemas/`), shared by the
/// service that produces a message and the ones that read it: NaN, ±∞, negative, zero where it
/// must be positive, out of range, times out of order. A message that fails is refused and
/// counted, never trusted — one bad feedback record must not move a plan.

/// Milliseconds since the epoch: from 1970 to the year 2286.
let epochMilliseconds: ClosedRange<Double> = 0...1e13
/// How far two machines' clocks may disagree before times from both are not believed.
let clockSkewMs = 60_000.0

extension FeedbackMessage {
  public var checks: FieldChecks {
    var checks = FieldChecks()
    checks.text(batchID, "batch_id")
    checks.text(group, "group")
    checks.text(worker, "worker")
    checks.integer(planVersion, "plan_version", in: 0...Int(Int32.max))
    checks.function(function)
    checks.integer(batchSize, "batch_size", in: 0...FieldBounds.batchSize.upperBound)
    checks.number(inferenceSeconds, "inference_s", in: 0...3600)
    checks.number(predictedMaxMs, "predicted_max_ms", in: FieldBounds.milliseconds)
    checks.require(
      endToEndMs.count <= FieldBounds.batchSize.upperBound, "end_to_end_ms is too long")
    for (index, latency) in endToEndMs.enumerated().prefix(FieldBounds.batchSize.upperBound) {
      checks.number(latency, "end_to_end_ms[\(index)]", in: 0...86_400_000)
    }
    if let intakeMs { checks.number(intakeMs, "intake_ms", in: 0...86_400_000) }
    let received = receivedMs ?? startedMs
    let published = publishedMs ?? finishedMs
    for (name, time) in [
      ("flushed_ms", flushedMs), ("received_ms", received), ("started_ms", startedMs),
      ("finished_ms", finishedMs), ("published_ms", published),
    ] {
      checks.number(time, name, in: epochMilliseconds)
    }
    // In order (the flush is another machine's clock), and no step longer than an hour.
    checks.require(
      received >= flushedMs - clockSkewMs && received - flushedMs <= 3_600_000,
      "received_ms is not within an hour after flushed_ms")
    checks.require(
      startedMs >= received && startedMs - received <= 3_600_000,
      "started_ms is not within an hour after received_ms")
    checks.require(
      finishedMs >= startedMs && published >= finishedMs && published - finishedMs <= 3_600_000,
      "finished_ms and published_ms are not in order after started_ms")
    if let billedCost { checks.number(billedCost, "billed_cost", in: FieldBounds.cost) }
    return checks
  }
}

extension RatesMessage {
  public var checks: FieldChecks {
    var checks = FieldChecks()
    checks.text(router, "router")
    checks.integer(planVersion, "plan_version", in: 0...Int(Int32.max))
    checks.number(windowStartMs, "window_start_ms", in: epochMilliseconds)
    checks.number(windowEndMs, "window_end_ms", in: epochMilliseconds)
    checks.require(
      windowEndMs >= windowStartMs && windowEndMs - windowStartMs <= 3_600_000,
      "the window does not end within an hour after it starts")
    checks.require(apps.count <= 100_000, "over 100,000 apps")
    for (code, count) in rejected {
      checks.text(code, "a reason code", maxLength: 64)
      checks.integer(count, "rejected \(code)", in: 0...1_000_000_000)
    }
    return checks
  }
}

extension RatesMessage {
  /// Why one app's entry cannot be believed, or nil: an app id no router forwards
  /// (`RequestLimits`), counts or an SLO out of range. The controller drops that entry and keeps
  /// the rest of the report.
  public static func entryProblem(app: String, count: RouterReport.AppCount) -> String? {
    if let problem = RequestLimits.appIDProblem(app) { return problem.detail }
    var checks = FieldChecks()
    checks.integer(count.requests, "requests", in: 0...1_000_000_000)
    if let backlog = count.backlog {
      checks.integer(backlog, "backlog", in: 0...max(0, count.requests))
    }
    checks.number(count.sloMs, "slo_ms", in: 0.001...FieldBounds.milliseconds.upperBound)
    return checks.isValid ? nil : "app \(RequestLimits.printable(app)): \(checks.summary)"
  }
}

extension WorkerReport {
  public var checks: FieldChecks {
    var checks = FieldChecks()
    checks.text(worker, "worker")
    checks.text(group, "group")
    // What `worker --concurrency` accepts: a report claiming more is not a worker of ours.
    checks.integer(slots, "slots", in: 1...WorkerReport.maxSlots)
    if let cores { checks.integer(cores, "cores", in: 1...100_000) }
    if let shed { checks.integer(shed, "shed", in: 0...1_000_000_000) }
    if let topicPartitions {
      checks.integer(topicPartitions, "topic_partitions", in: 1...WorkerReport.maxPartitions)
    }
    if let partitions {
      checks.integer(partitions.count, "partitions", in: 0...WorkerReport.maxPartitions)
      checks.require(
        Set(partitions.map(\.partition)).count == partitions.count, "a partition is listed twice")
      for load in partitions.prefix(WorkerReport.maxPartitions) {
        checks.integer(
          Int(load.partition), "a partition",
          in: 0...((topicPartitions ?? WorkerReport.maxPartitions) - 1))
        checks.integer(load.backlog, "backlog of partition \(load.partition)", in: 0...backlog)
        if let lag = load.lag {
          checks.integer(lag, "lag of partition \(load.partition)", in: 0...Int(Int32.max))
        }
      }
    }
    checks.number(windowStartMs, "window_start_ms", in: epochMilliseconds)
    checks.number(windowEndMs, "window_end_ms", in: epochMilliseconds)
    checks.require(windowEndMs >= windowStartMs, "window_end_ms is before window_start_ms")
    checks.number(busySlots, "busy_slots", in: 0...Double(max(1, slots)) * 1.001)
    checks.number(utilisation, "utilisation", in: 0...1.001)
    checks.integer(batches, "batches", in: 0...1_000_000_000)
    checks.integer(requests, "requests", in: 0...1_000_000_000)
    checks.integer(backlog, "backlog", in: 0...1_000_000_000)
    if let lag { checks.integer(lag, "lag", in: 0...Int.max) }
    if let waits = queueWaitMs {
      for (name, value) in [
        ("p50", waits.p50), ("p95", waits.p95), ("p99", waits.p99), ("max", waits.max),
      ] {
        checks.number(value, "queue_wait_ms \(name)", in: 0...86_400_000)
      }
      checks.integer(waits.count, "queue_wait_ms count", in: 1...1_000_000_000)
    }
    return checks
  }
}

extension BatchMessage {
  /// The batch's own fields. A batch that fails them is refused whole; its requests' own faults
  /// (`Request.problem`) cost only those requests.
  public var checks: FieldChecks {
    var checks = FieldChecks()
    checks.text(batchID, "batch_id")
    checks.text(group, "group")
    checks.text(batcher, "batcher")
    checks.integer(planVersion, "plan_version", in: 0...Int(Int32.max))
    checks.function(function)
    checks.integer(batchSize, "batch_size", in: FieldBounds.batchSize)
    checks.number(flushedAtMs, "flushed_at_ms", in: epochMilliseconds)
    checks.number(latencyMaxMs, "latency_max_ms", in: FieldBounds.milliseconds)
    if let intakeMs { checks.number(intakeMs, "intake_ms", in: 0...86_400_000) }
    checks.integer(requests.count, "requests", in: FieldBounds.batchSize)
    return checks
  }
}

extension BatchMessage.Request {
  /// Why this request cannot be run, or nil: the limits the router applies (`RequestLimits`),
  /// then its numbers. The worker dead-letters it alone and runs the rest of its batch.
  public var problem: RequestLimits.Problem? {
    if let problem = RequestLimits.problem(
      app: app, requestID: id, headerNames: (headers ?? []).map(\.name))
    {
      return problem
    }
    var checks = FieldChecks()
    checks.number(sloMs, "slo_ms", in: 0.001...FieldBounds.milliseconds.upperBound)
    checks.number(Double(arrivalMs), "arrival_ms", in: epochMilliseconds)
    checks.number(deadlineMs, "deadline_ms", in: epochMilliseconds)
    return checks.isValid
      ? nil : RequestLimits.Problem(code: .badBatch, detail: "the request's \(checks.summary)")
  }
}
