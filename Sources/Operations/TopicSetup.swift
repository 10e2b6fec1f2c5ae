import Foundation
import Kafka
import Pipeline
import PipelineCore

/// `harmonybatch topics`' work: the pipeline's topics on a cluster as `TopicLayout` lays them
/// out, the missing ones created through the CreateTopics API (not on an embedded broker, which
/// creates topics on first use, nor on a dry run), and a table of what there is.
public enum TopicSetup {
  /// What became of the topics: a table, one row a topic with its partitions, replication,
  /// configs and state, and a line about the cluster; `complete` is false when a topic that
  /// was to be created is still missing.
  public struct Outcome: Sendable {
    public let lines: [String]
    public let complete: Bool
  }

  public static func run(
    common: KafkaConfiguration, layout: TopicLayout, topics: PipelineTopics, dryRun: Bool
  ) throws -> Outcome {
    let admin = try KafkaAdmin(configuration: common)
    let cluster = try admin.describeCluster()
    let specs = layout.specs(topics, brokers: cluster.brokers)
    let missing = specs.filter { cluster.topics[$0.name] == nil }
    let creating = !dryRun && !cluster.isEmbeddedBroker
    if creating, !missing.isEmpty { try admin.createTopics(missing) }
    let after = creating && !missing.isEmpty ? try admin.describeCluster().topics : cluster.topics
    var rows = [["topic", "partitions", "replication (new)", "configs (new)", "state"]]
    for spec in specs {
      let state: String
      if let existing = cluster.topics[spec.name] {
        state =
          existing == spec.partitions
          ? "exists" : "exists (\(existing) partitions, not \(spec.partitions): left as is)"
      } else if cluster.isEmbeddedBroker {
        state = "created on first use (embedded broker, 4 partitions)"
      } else if !creating {
        state = "would be created"
      } else {
        state = after[spec.name] != nil ? "created" : "MISSING"
      }
      rows.append([
        spec.name, String(after[spec.name] ?? spec.partitions), String(spec.replicationFactor),
        spec.configs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
          .joined(separator: ","),
        state,
      ])
    }
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    var lines = rows.map { row in
      zip(row, widths).map { $0.0.padding(toLength: $0.1 + 2, withPad: " ", startingAt: 0) }
        .joined().trimmingCharacters(in: .whitespaces)
    }
    lines.append(
      "cluster \(cluster.id ?? "(no id)"): \(cluster.brokers) broker(s)"
        + (cluster.isEmbeddedBroker ? ", an embedded broker" : ""))
    let absent = specs.filter { after[$0.name] == nil }
    return Outcome(lines: lines, complete: !creating || absent.isEmpty)
  }
}
