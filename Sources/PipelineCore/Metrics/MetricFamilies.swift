/// The metrics the services publish on `GET /metrics` (README, "Metrics and health").
extension MetricsRegistry.Family {
  public static let requestsRouted = Self(
    "harmonybatch_requests_routed_total", .counter,
    "Requests the router sent to their group, by app.")
  public static let deadLetters = Self(
    "harmonybatch_dead_letters_total", .counter,
    "Records sent to the dead letter, by the stage that refused them and the reason code.")
  public static let batchesDispatched = Self(
    "harmonybatch_batches_dispatched_total", .counter,
    "Batches the batcher flushed, by group, function kind and flush reason.")
  public static let requestsDispatched = Self(
    "harmonybatch_requests_dispatched_total", .counter, "Requests in flushed batches, by group.")
  public static let lateRequests = Self(
    "harmonybatch_late_requests_total", .counter,
    "Requests diverted to the late topic because their SLO could no longer be met, by app.")
  public static let batchFill = Self(
    "harmonybatch_batch_fill_ratio", .histogram,
    "Requests in a flushed batch over the group's batch size.",
    buckets: [0.1, 0.25, 0.5, 0.75, 0.9, 1])
  public static let flushLateness = Self(
    "harmonybatch_flush_lateness_seconds", .histogram,
    "How long after its deadline a flush woken by that deadline ran.",
    buckets: [0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.05, 0.1])
  public static let requestsServed = Self(
    "harmonybatch_requests_served_total", .counter,
    "Results published by the workers, by app and whether the SLO was met.")
  public static let requestLatency = Self(
    "harmonybatch_request_latency_seconds", .histogram,
    "From a request's arrival to its result being published, by app.",
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
  public static let inference = Self(
    "harmonybatch_inference_seconds", .histogram, "What a batch's function took, by backend.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
  public static let slotWait = Self(
    "harmonybatch_slot_wait_seconds", .histogram,
    "How long a batch read by a worker waited for a free slot.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5])
  public static let slotUtilisation = Self(
    "harmonybatch_slot_utilisation_ratio", .gauge,
    "Busy slots over slots in the worker's last report window (time-averaged), by worker group.")
  public static let planVersion = Self(
    "harmonybatch_plan_version", .gauge, "The version of the plan this service follows.")
  public static let plansPublished = Self(
    "harmonybatch_plans_published_total", .counter,
    "Plan versions the controller published, by trigger (first, new-app, slo-at-risk, cheaper, …).")
  public static let planCost = Self(
    "harmonybatch_plan_cost_per_request", .gauge,
    "The expected billed cost per request of the plan the controller published last.")
  public static let consumerLag = Self(
    "harmonybatch_consumer_lag", .gauge,
    "Records on the stage's input partitions not yet read, by consumer group.")
  public static let messageErrors = Self(
    "harmonybatch_message_errors_total", .counter,
    "Messages a stage could not write (a number JSON cannot hold) or read back, by stage, "
      + "message (plan, batch) and direction (encode, decode).")
  public static let rateForecastError = Self(
    "harmonybatch_rate_forecast_error_ratio", .gauge,
    "The controller's rate forecast error by app (controller --forecast on): the absolute errors "
      + "over what was counted (WAPE) over the forecast's error window, at the step ahead the "
      + "pools are sized for.")
  public static let ready = Self(
    "harmonybatch_service_ready", .gauge,
    "1 when the service serves (its group joined, its plan in hand), else 0.")

  /// Every family above (the README's table and the Grafana dashboard in Deploy/ use these).
  public static let all: [Self] = [
    requestsRouted, deadLetters, batchesDispatched, requestsDispatched, lateRequests, batchFill,
    flushLateness, requestsServed, requestLatency, inference, slotWait, slotUtilisation,
    planVersion,
    plansPublished, planCost, consumerLag, messageErrors, rateForecastError, ready,
  ]
}
