import Arguments
import Pipeline
import PipelineCore

/// The options that lay out the pipeline's topics on a real cluster (`TopicLayout`).
public enum TopicOptions {
  /// `--partitions`, `--topic-partitions` and `--replication-factor`.
  public static let specs: [OptionSpec] = [
    .option(
      "partitions", "N",
      "Partitions of the data topics created on a real cluster (default 8: the most batcher or "
        + "worker replicas a group can use)."),
    .option(
      "topic-partitions", "TOPIC=N",
      "Partitions of one topic, by full name (wins over --partitions).",
      repeatable: true),
    .option(
      "replication-factor", "N",
      "Replication factor of the topics created (default 3, or the broker count if fewer)."),
  ]

  /// `--topic-prefix`, which every command that reads or writes the pipeline's topics takes.
  public static let prefix = OptionSpec.option(
    "topic-prefix", "P", "Prefix of the pipeline's topics (default hb.).")

  /// The pipeline's topics under `--topic-prefix`.
  public static func topics(_ options: ParsedOptions) -> PipelineTopics {
    PipelineTopics(prefix: options.string("topic-prefix") ?? "hb.")
  }

  /// The layout `--partitions`, `--topic-partitions` and `--replication-factor` describe.
  public static func layout(_ options: ParsedOptions) throws(UsageError) -> TopicLayout {
    var layout = TopicLayout()
    layout.partitions = try options.int("partitions", default: 8, in: 1...10_000)
    layout.replicationFactor = try options.int("replication-factor", in: 1...32)
    for item in options.list("topic-partitions") {
      guard let eq = item.lastIndex(of: "="), let count = Int(item[item.index(after: eq)...]),
        (1...10_000).contains(count), eq != item.startIndex
      else {
        throw UsageError("--topic-partitions must be TOPIC=N with N in 1...10000, got '\(item)'")
      }
      layout.partitionsByTopic[String(item[..<eq])] = count
    }
    return layout
  }
}
