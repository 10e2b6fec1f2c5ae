import Kafka
import Pipeline

/// The stages one `harmonybatch batcher` process runs: the router and the batcher, or one of
/// them (`--stage`).
public enum BatcherStages: String, CaseIterable, Sendable, CustomStringConvertible {
  case both, router, batcher

  /// The services of these stages, downstream first: on shutdown the router stops first and
  /// the batcher flushes what it sent.
  public func services(
    common: KafkaConfiguration, router: RouterService.Settings, batcher: BatcherService.Settings,
    log: PipelineLog
  ) -> [any PipelineService] {
    var services: [any PipelineService] = []
    if self != .router {
      services.append(BatcherService(common: common, settings: batcher, log: log.named("batcher")))
    }
    if self != .batcher {
      services.append(RouterService(common: common, settings: router, log: log.named("router")))
    }
    return services
  }

  /// What the process runs, in words.
  public var description: String { self == .both ? "router and batcher" : rawValue }
}
