// The record and message types are a target of their own, with no librdkafka, so that the
// pipeline's pure core (`PipelineCore`) can decide on records without linking Kafka; whoever
// imports Kafka sees them as before.
@_exported import KafkaMessages
