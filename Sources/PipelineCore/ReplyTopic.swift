/// What a request may name in `hb-reply-topic`: a legal Kafka topic name (1–249 of `a-z A-Z 0-9
/// . _ -`, not `.` or `..`) that is none of the pipeline's own topics (a reply must never land on
/// hb.plans or hb.batches.*) nor a broker's internal one (`__consumer_offsets`,
/// `__transaction_state`: every name starting `__`), and starts with `requiredPrefix` when the
/// operator set one (`batcher --reply-topic-prefix`).
public enum ReplyTopic {
  /// Why `name` cannot be a reply topic, or nil when it can.
  public static func problem(
    _ name: String, topics: PipelineTopics, requiredPrefix: String? = nil
  ) -> String? {
    guard !name.isEmpty, name.utf8.count <= 249 else {
      return "\(HeaderName.replyTopic) must be 1 to 249 characters long"
    }
    guard name != ".", name != "..",
      name.utf8.allSatisfy({ byte in
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
          || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
          || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
          || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
      })
    else {
      return "\(HeaderName.replyTopic) '\(name.prefix(60))' is not a Kafka topic name "
        + "(letters, digits, '.', '_' and '-')"
    }
    guard !(name.hasPrefix(topics.prefix) && topics.all.contains(name)) else {
      return "\(HeaderName.replyTopic) '\(name)' is one of the pipeline's own topics"
    }
    guard !name.hasPrefix("__") else {
      return "\(HeaderName.replyTopic) '\(name)' is a broker's internal topic"
    }
    if let requiredPrefix, !name.hasPrefix(requiredPrefix) {
      return "\(HeaderName.replyTopic) '\(name)' does not start with '\(requiredPrefix)'"
    }
    return nil
  }
}
