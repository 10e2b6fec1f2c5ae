import Kafka
import Pipeline
import PipelineCore

/// `harmonybatch watch`'s loop: a `ClusterView` of the cluster `common` names, redrawn on the
/// terminal every `interval` until SIGINT/SIGTERM — or, `once`, read up to now and printed
/// once.
public enum LiveView {
  /// Runs the view as a service; returns the group's exit code.
  public static func run(
    common: KafkaConfiguration, topics: PipelineTopics, interval: Duration, once: Bool
  ) async -> Int32 {
    let watching = ClosureService("watch") { context in
      let view = try ClusterView(common: common, topics: topics)
      if once {
        view.catchUp()
        Console.out(view.render())
        return
      }
      var last = ContinuousClock.now - interval
      while !context.isStopping {
        view.read(for: .milliseconds(50))
        if ContinuousClock.now - last >= interval {
          last = .now
          Console.out("\u{1B}[H\u{1B}[2J" + view.render())
        }
      }
    }
    return await ServiceGroup([watching], log: PipelineLog(service: "watch")).run()
  }
}
