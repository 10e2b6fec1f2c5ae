#!/usr/bin/env python3
"""Send requests to a HarmonyBatch pipeline and wait for their replies.

A request is a record on hb.requests: key = app id, value = the model input, headers
`hb-slo-ms` (its latency SLO), `hb-request-id` (an id of ours), `hb-reply-topic` (where its
outcome comes back) and a W3C `traceparent`. The pipeline produces the outcome to the reply
topic keyed by request id, with the request's own headers and `hb-outcome`: `result` (the value
is the result JSON, Schemas/result.schema.json), `dead-letter` (`hb-error` says why) or `late`
(`hb-late-reason`). See Schemas/headers.md.

    python3 harmonybatch_client.py --bootstrap HOST:PORT --app app-a --slo-ms 500 --count 100

Exits 0 when every request got its reply with its traceparent intact, 1 otherwise. Needs
confluent-kafka (Debian: python3-confluent-kafka; PyPI: confluent-kafka).
"""

import argparse
import json
import secrets
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic


class HarmonyBatchClient:
    """Sends requests with a reply topic and collects replies by request id."""

    def __init__(self, bootstrap, reply_topic, requests_topic="hb.requests", config=None):
        common = {"bootstrap.servers": bootstrap, **(config or {})}
        self.requests_topic = requests_topic
        self.reply_topic = reply_topic
        self.producer = Producer({**common, "enable.idempotence": True, "linger.ms": 1})
        self._create_reply_topic(common)
        # A group of its own that reads the reply topic from its start: no reply is missed
        # however soon it comes (the topic is this client's own).
        self.consumer = Consumer(
            {
                **common,
                "group.id": "hb-client-" + uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                # A reply topic that does not exist yet is created by the first reply (on
                # brokers that create topics); until then, not an error.
                "allow.auto.create.topics": True,
            }
        )
        self.consumer.subscribe([reply_topic])
        self.pending = {}  # request id -> (traceparent, time sent)
        self.replies = {}  # request id -> reply dict
        self.undelivered = 0

    def _create_reply_topic(self, common):
        """Creates the reply topic before subscribing to it: a consumer subscribed to a topic
        that does not exist yet may not notice it once it does (and clusters that do not create
        topics on first use would never make it). librdkafka's embedded mock broker has no
        CreateTopics; it creates topics on first use, so there is nothing to do."""
        admin = AdminClient(common)
        metadata = admin.list_topics(timeout=10)
        if (metadata.cluster_id or "").startswith("mockCluster") or self.reply_topic in metadata.topics:
            return
        futures = admin.create_topics([NewTopic(self.reply_topic, num_partitions=1)],
                                      operation_timeout=10, request_timeout=15)
        for future in futures.values():
            try:
                future.result()
            except Exception as error:  # an existing topic, or no right to create one
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    print("reply topic %s not created: %s" % (self.reply_topic, error),
                          file=sys.stderr)

    def join(self, timeout_s=30):
        """Waits until the reply consumer has its partitions (a group's first join takes seconds),
        so that round-trip times measure the pipeline, not the join. Replies are not lost
        without it (the group reads from the start); they are only read later."""
        deadline = time.monotonic() + timeout_s
        while not self.consumer.assignment() and time.monotonic() < deadline:
            message = self.consumer.poll(0.1)
            if message is not None and not message.error():
                self._take(message)
        return bool(self.consumer.assignment())

    def send(self, app, text, slo_ms):
        """Sends one request; returns its id."""
        request_id = uuid.uuid4().hex
        traceparent = "00-%s-%s-01" % (secrets.token_hex(16), secrets.token_hex(8))
        headers = [
            ("hb-slo-ms", str(slo_ms)),
            ("hb-request-id", request_id),
            ("hb-reply-topic", self.reply_topic),
            ("traceparent", traceparent),
        ]
        self.producer.produce(
            self.requests_topic, key=app.encode(), value=text.encode(), headers=headers,
            on_delivery=self._delivered)
        self.producer.poll(0)
        self.pending[request_id] = (traceparent, time.monotonic())
        return request_id

    def _delivered(self, error, message):
        if error is not None:
            self.undelivered += 1
            print("a request was not delivered: %s" % error, file=sys.stderr)

    def wait(self, timeout_s):
        """Reads replies until every request sent has one or `timeout_s` passes."""
        self.producer.flush(timeout_s)
        self.read_replies(until=time.monotonic() + timeout_s, stop_when_done=True)
        return self.replies

    def read_replies(self, until, stop_when_done=False):
        """Reads replies until `until` (a time.monotonic()), or until every request sent has one
        when `stop_when_done`."""
        while not (stop_when_done and len(self.replies) == len(self.pending)):
            left = until - time.monotonic()
            if left <= 0:
                return
            message = self.consumer.poll(min(0.2, left))
            self.producer.poll(0)
            if message is None:
                continue
            if message.error():
                if message.error().code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    print("reply topic: %s" % message.error(), file=sys.stderr)
                continue
            self._take(message)

    def _take(self, message):
        request_id = (message.key() or b"").decode()
        if request_id in self.pending and request_id not in self.replies:
            headers = {k: (v or b"").decode(errors="replace") for k, v in message.headers() or []}
            sent_traceparent, sent_at = self.pending[request_id]
            self.replies[request_id] = {
                "outcome": headers.get("hb-outcome"),
                "error": headers.get("hb-error"),
                "traceparent_intact": headers.get("traceparent") == sent_traceparent,
                "round_trip_ms": (time.monotonic() - sent_at) * 1000,
                "result": json.loads(message.value()) if message.value() else None,
            }

    def close(self):
        self.consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT of the Kafka cluster")
    parser.add_argument("--app", default="app-a", help="the app id (the request key)")
    parser.add_argument("--slo-ms", type=float, default=1000, help="each request's SLO")
    parser.add_argument("--count", type=int, default=100, help="requests to send")
    parser.add_argument("--reply-topic", help="default: hb-replies-<random>, this run's own")
    parser.add_argument("--rate", type=float, default=50, help="requests per second (0: at once)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for replies")
    parser.add_argument("--text", default="a sentence to embed", help="each request's input")
    parser.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka property for every client (SASL, TLS, timeouts)")
    args = parser.parse_args()
    config = {}
    for item in args.property:
        key, eq, value = item.partition("=")
        if not eq or not key:
            parser.error("--property must be KEY=VALUE, got %r" % item)
        config[key] = value

    reply_topic = args.reply_topic or "hb-replies-" + uuid.uuid4().hex[:12]
    client = HarmonyBatchClient(args.bootstrap, reply_topic, config=config)
    try:
        if not client.join():
            print("the reply consumer got no partitions of %s yet" % reply_topic, file=sys.stderr)
        start = time.monotonic()
        for index in range(args.count):
            if args.rate > 0:
                # Replies are read while requests are paced, so round trips are not inflated.
                client.read_replies(until=start + index / args.rate)
            client.send(args.app, "%s %d" % (args.text, index), args.slo_ms)
        replies = client.wait(args.timeout)
    finally:
        client.close()

    outcomes = {}
    for reply in replies.values():
        outcomes[reply["outcome"]] = outcomes.get(reply["outcome"], 0) + 1
    intact = sum(1 for reply in replies.values() if reply["traceparent_intact"])
    times = sorted(reply["round_trip_ms"] for reply in replies.values())
    summary = {
        "sent": args.count,
        "replies": len(replies),
        "outcomes": outcomes,
        "traceparent_intact": intact,
        "slo_met": sum(1 for r in replies.values() if (r["result"] or {}).get("slo_met")),
        "undelivered": client.undelivered,
        "round_trip_ms_p50": times[len(times) // 2] if times else None,
        "round_trip_ms_max": times[-1] if times else None,
        "reply_topic": reply_topic,
    }
    print(json.dumps(summary))
    return 0 if len(replies) == args.count and intact == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
