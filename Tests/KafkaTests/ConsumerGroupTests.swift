import Foundation
import Kafka
import Testing
import WaitSupport

@Suite(.serialized, .startsServices, .onOwnThread) struct ConsumerGroupTests {
  /// Two members split the partitions; a third joining rebalances; across the whole run every
  /// record is processed by exactly one member, exactly once.
  ///
  /// The embedded broker refuses offset commits while a rebalance is in progress (a real broker
  /// accepts them from the current generation), so a record processed in that window would be
  /// redelivered: at-least-once, which the pipeline absorbs by deduplicating on request id. The
  /// test therefore lets the rebalance happen with all processed work committed and produces the
  /// next records once the new assignment stands.
  @Test func membersSplitPartitionsAndARebalanceLosesOrRepeatsNothing() async throws {
    let topic = uniqueName("group")
    let group = uniqueName("g")
    let bootstrap = sharedBroker.bootstrapServers
    try sharedBroker.createTopics([KafkaTopicSpec(name: topic, partitions: 4)])
    let producer = try KafkaProducer(configuration: producerConfiguration(bootstrap))
    func produce(_ range: Range<Int>) throws {
      for i in range {
        try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k\(i)", value: "v\(i)"))
      }
      try producer.flush()
    }
    let partitions = Set((0..<4).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) })
    func splitExactly(_ members: [GroupMember]) -> Bool {
      let sets = members.map(\.assignment)
      return sets.allSatisfy { !$0.isEmpty } && sets.reduce(0) { $0 + $1.count } == 4
        && sets.reduce(into: Set<KafkaTopicPartition>()) { $0.formUnion($1) } == partitions
    }
    // Reads the group's committed offsets without joining it.
    let observer = try KafkaConsumer(configuration: consumerConfiguration(bootstrap, group: group))
    defer { observer.close() }
    func committedTotal() throws -> Int64 {
      try observer.committed(Array(partitions)).values.reduce(0) { $0 + max($1, 0) }
    }

    let first = try GroupMember(bootstrap: bootstrap, group: group, topic: topic)
    let second = try GroupMember(bootstrap: bootstrap, group: group, topic: topic)
    #expect(await eventually(timeout: .seconds(60)) { splitExactly([first, second]) })
    try produce(0..<200)
    #expect(await eventually { first.values.count + second.values.count >= 200 })
    #expect(!first.values.isEmpty && !second.values.isEmpty, "both members did work")
    #expect(try await eventually { try committedTotal() == 200 })

    let third = try GroupMember(bootstrap: bootstrap, group: group, topic: topic)
    #expect(await eventually(timeout: .seconds(60)) { splitExactly([first, second, third]) })
    #expect(
      first.revocations + second.revocations >= 1, "the third member's arrival revoked partitions")
    try produce(200..<400)
    let members = [first, second, third]
    #expect(await eventually { members.reduce(0) { $0 + $1.values.count } >= 400 })
    #expect(try await eventually { try committedTotal() == 400 })
    for member in members { member.stop() }

    let processed = members.flatMap(\.values)
    #expect(processed.count == 400, "each record processed once: \(processed.count) processings")
    #expect(Set(processed) == Set((0..<400).map { "v\($0)" }))
    #expect(!third.values.isEmpty, "the newcomer took over work")
  }

  @Test func closeCommitsStoredOffsetsSoTheNextMemberResumesAfterThem() throws {
    let topic = uniqueName("resume")
    let group = uniqueName("g")
    let bootstrap = sharedBroker.bootstrapServers
    try sharedBroker.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
    let producer = try KafkaProducer(configuration: producerConfiguration(bootstrap))
    for i in 0..<10 {
      try producer.enqueue(KafkaProducerMessage(topic: topic, key: nil, value: "r\(i)"))
    }
    try producer.flush()

    var configuration = consumerConfiguration(bootstrap, group: group)
    configuration.commitPolicy = .manual
    let reader = try KafkaConsumer(configuration: configuration)
    try reader.subscribe(topics: [topic])
    let firstRead = try readRecords(reader, count: 10, timeout: .seconds(60))
    try #require(firstRead.count == 10)
    // Done with the first four only.
    for record in firstRead.prefix(4) { try reader.storeOffset(for: record) }
    reader.close()

    let next = try KafkaConsumer(configuration: configuration)
    defer { next.close() }
    try next.subscribe(topics: [topic])
    let secondRead = try readRecords(next, count: 6, timeout: .seconds(60))
    #expect(secondRead.map { $0.valueString ?? "" } == (4..<10).map { "r\($0)" })
    let committed = try next.committed([KafkaTopicPartition(topic: topic, partition: 0)])
    #expect(committed[KafkaTopicPartition(topic: topic, partition: 0)] == 4)
  }

  @Test func pausedPartitionDeliversNothingUntilResumed() throws {
    let topic = uniqueName("pause")
    let bootstrap = sharedBroker.bootstrapServers
    try sharedBroker.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
    let producer = try KafkaProducer(configuration: producerConfiguration(bootstrap))
    let tp = KafkaTopicPartition(topic: topic, partition: 0)
    let consumer = try KafkaConsumer(configuration: consumerConfiguration(bootstrap, group: nil))
    defer { consumer.close() }
    try consumer.assign([(tp, .beginning)])
    try consumer.pause([tp])
    for i in 0..<5 {
      try producer.enqueue(KafkaProducerMessage(topic: topic, key: nil, value: "p\(i)"))
    }
    try producer.flush()
    #expect(try readRecords(consumer, count: 1, timeout: .seconds(2)).isEmpty)
    try consumer.resume([tp])
    #expect(try readRecords(consumer, count: 5).count == 5)
  }

  @Test func subscribingWithoutAGroupIsAClearError() throws {
    let consumer = try KafkaConsumer(
      configuration: consumerConfiguration(sharedBroker.bootstrapServers, group: nil))
    defer { consumer.close() }
    #expect(throws: KafkaError.self) { try consumer.subscribe(topics: ["x"]) }
  }
}
