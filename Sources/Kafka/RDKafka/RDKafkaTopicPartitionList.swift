import CRdKafka

/// Converts between Swift topic/partition values and `rd_kafka_topic_partition_list_t`.
enum RDKafkaTopicPartitionList {
  /// Calls `body` with a freshly built C list that is destroyed afterwards.
  static func with<R>(
    _ entries: [(KafkaTopicPartition, Int64)],
    _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws(KafkaError) -> R
  ) throws(KafkaError) -> R {
    let list = rd_kafka_topic_partition_list_new(Int32(max(1, entries.count)))!
    defer { rd_kafka_topic_partition_list_destroy(list) }
    for (tp, offset) in entries {
      let element = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!
      element.pointee.offset = offset
    }
    return try body(list)
  }

  static func partitions(
    _ list: UnsafePointer<rd_kafka_topic_partition_list_t>
  ) -> [KafkaTopicPartition] {
    let count = Int(list.pointee.cnt)
    guard count > 0, let elements = list.pointee.elems else { return [] }
    return (0..<count).map {
      KafkaTopicPartition(
        topic: String(cString: elements[$0].topic), partition: elements[$0].partition)
    }
  }

  /// The first per-partition error in a list a call filled in, if any.
  static func firstError(
    _ list: UnsafePointer<rd_kafka_topic_partition_list_t>
  ) -> (KafkaTopicPartition, rd_kafka_resp_err_t)? {
    let count = Int(list.pointee.cnt)
    guard count > 0, let elements = list.pointee.elems else { return nil }
    for i in 0..<count where elements[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
      return (
        KafkaTopicPartition(
          topic: String(cString: elements[i].topic), partition: elements[i].partition),
        elements[i].err
      )
    }
    return nil
  }

  static func cOffset(_ offset: KafkaOffset) -> Int64 {
    switch offset {
    case .beginning: Int64(RD_KAFKA_OFFSET_BEGINNING)
    case .end: Int64(RD_KAFKA_OFFSET_END)
    case .stored: Int64(RD_KAFKA_OFFSET_STORED)
    case .exact(let value): value
    }
  }
}
