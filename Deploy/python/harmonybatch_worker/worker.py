"""The worker: a member of `hb-workers-<kind>` on `hb.batches.<kind>` with `concurrency` slots, each
running one batch at a time through your handler, doing everything else the worker contract
(docs/worker-contract.md) asks — as the Swift worker (Sources/Pipeline/WorkerService.swift) does."""

import base64
import collections
import json
import logging
import os
import socket
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from . import contract
from .handler import Function, call
from .ledger import (InferenceFloor, KnownGroups, PendingOffsets, RecentRequests, SlotUsage,
                     percentiles, plan_groups, shed_verdict)

log = logging.getLogger("harmonybatch_worker")


class Settings:
    def __init__(self, kind="cpu", bootstrap="localhost:9092", group=None, topic_prefix="hb.",
                 concurrency=1, handler_timeout=60.0, late_policy="shed", report_interval=1.0,
                 create_reply_topics=False, properties=None, instance=None,
                 session_timeout_ms=10_000, backend=None):
        self.kind = kind
        self.bootstrap = bootstrap
        self.group = group or "hb-workers-" + kind
        self.topics = contract.Topics(topic_prefix)
        self.concurrency = max(1, concurrency)
        self.handler_timeout = handler_timeout
        self.late_policy = late_policy
        self.report_interval = report_interval
        self.create_reply_topics = create_reply_topics
        self.properties = dict(properties or {})
        self.instance = instance or "%s-%d" % (socket.gethostname(), os.getpid())
        self.session_timeout_ms = session_timeout_ms
        self.backend = backend or "python"


class _Entry:
    __slots__ = ("topic", "partition", "offset", "value", "received", "already_done")

    def __init__(self, message, received, already_done):
        self.topic = message.topic()
        self.partition = message.partition()
        self.offset = message.offset()
        self.value = message.value()
        self.received = received
        self.already_done = already_done

    @property
    def coordinates(self):
        return "%s/%d/%d" % (self.topic, self.partition, self.offset)


class _SlotQueue:
    """Batch records read and waiting for a slot, oldest first; which are running."""

    def __init__(self):
        self._waiting = collections.deque()
        self._running = collections.Counter()  # (topic, partition) -> batches running
        self._closed = False
        self._cond = threading.Condition()

    def put(self, entry):
        with self._cond:
            self._waiting.append(entry)
            self._cond.notify()

    def take(self):
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if not self._waiting:
                return None
            entry = self._waiting.popleft()
            self._running[(entry.topic, entry.partition)] += 1
            return entry

    def finished(self, entry):
        with self._cond:
            key = (entry.topic, entry.partition)
            self._running[key] -= 1
            if self._running[key] <= 0:
                del self._running[key]
            self._cond.notify_all()

    def remove(self, partitions):
        with self._cond:
            kept = [e for e in self._waiting if (e.topic, e.partition) not in partitions]
            dropped = len(self._waiting) - len(kept)
            self._waiting = collections.deque(kept)
            return dropped

    def running(self, partitions):
        with self._cond:
            return sum(self._running.get(key, 0) for key in partitions)

    def counts_by_partition(self):
        with self._cond:
            return collections.Counter(e.partition for e in self._waiting)

    def close(self):
        with self._cond:
            left = len(self._waiting)
            self._waiting.clear()
            self._closed = True
            self._cond.notify_all()
            return left


class Worker:
    def __init__(self, settings, handler, stop_event=None):
        self.settings = settings
        self.handler = handler
        self.stop = stop_event or threading.Event()
        self.clock = time.time
        self.ready = False
        self.reachable = True
        self.counts = collections.Counter()  # outcomes, for /metrics
        self._fatal = None
        self._acked = collections.deque()  # (topic, partition, offset) whose outputs are all in
        self._pending = PendingOffsets()
        self._ledger = {}
        self._queue = _SlotQueue()
        self._recent = RecentRequests()
        self._floor = InferenceFloor()
        self._known = KnownGroups()
        self._plans_lock = threading.Lock()
        self._last_catch_up = 0.0
        self._reply_topics = set()
        self._reply_looked = -1e9
        self._reply_lock = threading.Lock()
        self._dropped_replies = 0
        self._dropped_logged = -1e9
        self._topic_partitions = None
        self._topic_partitions_at = -1e9
        common = {"bootstrap.servers": settings.bootstrap, **settings.properties}
        self._common = common
        # The contract's settings; properties given (--property, --config) may change any but
        # the commit ones.
        self.consumer = Consumer({
            "group.id": settings.group,
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": settings.session_timeout_ms,
            "heartbeat.interval.ms": max(100, settings.session_timeout_ms // 5),
            "auto.offset.reset": "earliest",
            # A batch waits at the broker at most this long for company: low, as every
            # millisecond here is a millisecond of each request's SLO.
            "fetch.wait.max.ms": 10,
            **common,
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 500,
            "enable.auto.offset.store": False,
        })
        self.producer = Producer({"linger.ms": 1, "enable.idempotence": True, **common})
        self._plans = Consumer({
            **common, "group.id": "hb-plan-reader-" + uuid.uuid4().hex,
            "enable.auto.commit": False, "enable.partition.eof": True, "fetch.wait.max.ms": 100,
        })

    # The loop

    def run(self):
        """Runs until `stop` is set, then finishes the batches running, leaves the others to the
        group, sends a last report saying it leaves, and leaves the group. Raises on a failure
        that must end the process (outputs the broker refused for good)."""
        topic = self.settings.topics.batches[self.settings.kind]
        self._follow_plans()
        if not self._known.saw_plan:
            log.info("no plan on %s yet: batches are run whatever their group until one is "
                     "published", self.settings.topics.plans)
        self.usage = SlotUsage(self.settings.concurrency, self.clock())
        slots = [threading.Thread(target=self._slot, args=(i,), name="hb-worker-slot-%d" % i,
                                  daemon=True) for i in range(self.settings.concurrency)]
        for thread in slots:
            thread.start()
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_lost)
        log.info("%s: %d slots, handler %s, group %s on %s", self.settings.instance,
                 self.settings.concurrency, self.settings.backend, self.settings.group, topic)
        last_report = self.clock()
        batches = 0
        try:
            while not self.stop.is_set():
                self._raise_fatal()
                message = self.consumer.poll(0.1)
                self.producer.poll(0)
                self._follow_plans(wait=False)
                if message is not None:
                    if message.error():
                        if message.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("consumer: %s", message.error())
                    else:
                        batches += 1
                        self._pending.read(message.topic(), message.partition(), message.offset())
                        done = self._ledger.pop("%s/%d/%d" % (
                            message.topic(), message.partition(), message.offset()), None)
                        self._queue.put(_Entry(message, self.clock(), done))
                self._advance()
                now = self.clock()
                if self.settings.report_interval > 0 and now - last_report >= self.settings.report_interval:
                    last_report = now
                    self._report()
        finally:
            left = self._queue.close()
            for thread in slots:
                thread.join()
            if left:
                log.info("%d batches read but not started are left to the group", left)
            try:
                self.producer.flush(10)
                self._advance()
                if self.settings.report_interval > 0:
                    self._report(leaving=True)
                    self.producer.flush(5)
                self.consumer.commit(asynchronous=False)
            except KafkaException as error:
                if error.args[0].code() != KafkaError._NO_OFFSET:  # nothing new to commit
                    log.warning("on leaving: %s", error)
            self.consumer.close()
            self._plans.close()
            log.info("stopped: %d batches read, %d requests run, in %d slots", batches,
                     self.counts["ran"], self.settings.concurrency)
        self._raise_fatal()

    def _raise_fatal(self):
        if self._fatal is not None:
            raise RuntimeError(self._fatal)

    def _advance(self):
        """Stores the offsets every record before which is done (its outputs acknowledged)."""
        while self._acked:
            self._pending.done(*self._acked.popleft())
        moved = self._pending.advanced()
        if moved:
            self.consumer.store_offsets(offsets=[
                TopicPartition(t, p, offset) for (t, p), offset in moved.items()])

    # Rebalances

    def _on_assign(self, consumer, partitions):
        self.ready = True
        keys = [(tp.topic, tp.partition) for tp in partitions]
        if not partitions:
            return
        try:
            found = self._recover(partitions)
        except KafkaException as error:
            log.warning("recovery of %s failed (%s); their records may be done twice", keys, error)
            found = {}
        self._ledger.update(found)
        if found:
            log.info("recovered: %d records read before a restart were already done; they are "
                     "not done again", len(found))
        log.info("assigned %s", ", ".join("%s/%d" % key for key in sorted(keys)))

    def _on_revoke(self, consumer, partitions):
        self._give_up(partitions, commit=True)

    def _on_lost(self, consumer, partitions):
        self._give_up(partitions, commit=False)

    def _give_up(self, partitions, commit):
        """Partitions go: their queued batches are left to the new owner, their running ones
        finish here, and (unless they were lost) their offsets are committed first."""
        keys = {(tp.topic, tp.partition) for tp in partitions}
        dropped = self._queue.remove(keys)
        if dropped:
            log.info("revoking %d partitions; %d queued batches go to their new owner",
                     len(keys), dropped)
        deadline = time.monotonic() + 60
        while self._queue.running(keys) and time.monotonic() < deadline:
            self.producer.poll(0.05)
        if self._queue.running(keys):
            log.warning("revoking partitions: batches still running after 60 s; they may be "
                        "done twice")
        # What the finished ones produced must be in the topics before anyone looks for it.
        self.producer.flush(10)
        self._advance()
        if commit:
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException as error:
                if error.args[0].code() != KafkaError._NO_OFFSET:
                    log.warning("committing before a revocation: %s; some records may be done "
                                "twice", error)
        self._pending.forget(keys)
        prefixes = tuple("%s/%d/" % key for key in keys)
        self._ledger = {k: v for k, v in self._ledger.items() if not k.startswith(prefixes)}

    def _recover(self, partitions):
        """{batch coordinates: ids done} for this group's uncommitted records of `partitions`,
        from the outputs (RecoveryLedger.swift)."""
        committed = self.consumer.committed(partitions, timeout=10)
        reader = Consumer({**self._common, "group.id": "hb-recovery-" + uuid.uuid4().hex,
                           "enable.auto.commit": False})
        try:
            first = {}
            for tp in committed:
                low, high = reader.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                         timeout=10)
                start = max(low, tp.offset if tp.offset >= 0 else -1)
                if start < high:
                    first[(tp.topic, tp.partition)] = start
            if not first:
                return {}
            reader.assign([TopicPartition(t, p, o) for (t, p), o in first.items()])
            arrivals = {}
            deadline = time.monotonic() + 10
            while len(arrivals) < len(first) and time.monotonic() < deadline:
                message = reader.poll(0.1)
                if message is None or message.error():
                    continue
                key = (message.topic(), message.partition())
                arrivals.setdefault(key, message.timestamp()[1])
            since = min(arrivals.values(), default=0) - 10_000
            reader.unassign()
            topics = self.settings.topics
            metadata = reader.list_topics(timeout=10).topics
            outputs = [TopicPartition(name, p) for name in (topics.results, topics.dead_letter,
                                                            topics.late)
                       if name in metadata for p in metadata[name].partitions]
            marks = {(tp.topic, tp.partition): reader.get_watermark_offsets(tp, timeout=10)
                     for tp in outputs}
            # A broker that cannot look offsets up by time (librdkafka's mock cluster answers "the
            # end" even for time 0, or an error) is read from the first record kept.
            try:
                zero = reader.offsets_for_times(
                    [TopicPartition(tp.topic, tp.partition, 0) for tp in outputs], timeout=10)
                searchable = not any(
                    marks[(tp.topic, tp.partition)][0] < marks[(tp.topic, tp.partition)][1]
                    and (tp.offset < 0 or tp.offset >= marks[(tp.topic, tp.partition)][1])
                    for tp in zero)
                by_time = reader.offsets_for_times(
                    [TopicPartition(tp.topic, tp.partition, max(0, since)) for tp in outputs],
                    timeout=10) if searchable else []
            except KafkaException:
                searchable, by_time = False, []
            by_time = {(tp.topic, tp.partition): tp.offset for tp in by_time}
            starts, ends = [], {}
            for tp in outputs:
                low, high = marks[(tp.topic, tp.partition)]
                start = by_time.get((tp.topic, tp.partition), high) if searchable else low
                if start < 0:
                    start = high
                if start < high:
                    starts.append(TopicPartition(tp.topic, tp.partition, start))
                    ends[(tp.topic, tp.partition)] = high
            done = {}
            if not starts:
                return done
            reader.assign(starts)
            deadline = time.monotonic() + 30
            while ends and time.monotonic() < deadline:
                message = reader.poll(0.1)
                if message is None or message.error():
                    continue
                key = (message.topic(), message.partition())
                if key not in ends:
                    continue
                if message.offset() >= ends[key] - 1:
                    del ends[key]
                for source, rid in _recovery_sources(message):
                    try:
                        topic, partition, offset = source.rsplit("/", 2)
                        partition, offset = int(partition), int(offset)
                    except ValueError:
                        continue
                    start = first.get((topic, partition))
                    if start is None or offset < start:
                        continue
                    ids = done.setdefault(source, set())
                    if rid is not None:
                        ids.add(rid)
            log.info("recovery: uncommitted from %s; %d records found done",
                     ", ".join("%s/%d@%d" % (t, p, o) for (t, p), o in sorted(first.items())),
                     len(done))
            return done
        finally:
            reader.close()

    # Plans

    def _follow_plans(self, wait=True, timeout=10.0):
        """Reads the plan topic (partition 0, in order): at start and on a batch of a plan not
        known yet to its end, else what arrived."""
        with self._plans_lock:
            if not self._plans.assignment():
                self._plans.assign([TopicPartition(self.settings.topics.plans, 0, OFFSET_BEGINNING)])
            deadline = time.monotonic() + (timeout if wait else 0)
            while True:
                message = self._plans.poll(0.1 if wait else 0)
                if message is None:
                    if not wait or time.monotonic() >= deadline:
                        return
                    continue
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF and wait:
                        return
                    continue
                plan = plan_groups(message.value())
                if plan is None:
                    log.warning("refused: the record at %s/0/%d is not a plan",
                                message.topic(), message.offset())
                    continue
                self._known.adopt(plan)

    def _group_problem(self, batch):
        apps = [r.get("app") for r in batch["requests"]]
        with self._plans_lock:
            problem = self._known.problem(batch["group"], batch["plan_version"], apps)
            if problem is None or self._known.knows(batch["plan_version"]):
                return problem
            now = time.monotonic()
            if now - self._last_catch_up < 0.5:
                return problem
            self._last_catch_up = now
        self._follow_plans(wait=True, timeout=2.0)
        with self._plans_lock:
            return self._known.problem(batch["group"], batch["plan_version"], apps)

    # A slot

    def _slot(self, index):
        token = index
        while True:
            entry = self._queue.take()
            if entry is None:
                return
            token += self.settings.concurrency
            started = self.clock()
            self.usage.started(token, started, started - entry.received)
            ran = 0
            try:
                ran, shed = self._process(entry, started)
                if shed:
                    self.usage.shed(shed)
            except Exception as error:  # a bug of ours: end the process, the group redelivers
                log.exception("batch %s", entry.coordinates)
                self._fatal = self._fatal or "batch %s: %s" % (entry.coordinates, error)
                self.stop.set()
            self.usage.finished(token, self.clock(), ran)
            self._queue.finished(entry)

    def _process(self, entry, started):
        """Runs one batch record; returns (requests run, requests shed)."""
        topics = self.settings.topics
        done = entry.already_done
        if done is not None and not done:
            self._produce(entry, [], [])  # refused whole before a restart
            return 0, 0
        try:
            batch = json.loads(entry.value)
            problem = contract.batch_problem(batch) if isinstance(batch, dict) else "not an object"
        except (ValueError, TypeError) as error:
            batch, problem = None, "not valid JSON: %s" % error
        if problem is not None:
            return self._refuse_whole(entry, "the batch is refused: %s" % problem)
        messages, replies = [], []
        group_problem = self._group_problem(batch)
        if group_problem:
            log.warning("batch %s refused: %s; each of its %d requests ends as a dead letter "
                        "(unknown-group)", entry.coordinates, group_problem, len(batch["requests"]))
        pending = []
        for request in batch["requests"]:
            if done and request.get("id") in done:
                continue
            if not self._recent.claim("%s\0%s" % (request.get("source"), request.get("id"))):
                log.warning("batch %s: request %s ended here already (the batch was produced "
                            "twice?); not run again", entry.coordinates, request.get("id"))
                continue
            fault = contract.request_problem(request)
            if fault is not None:
                self._end(request, batch["group"], entry, topics.dead_letter, "dead-letter",
                          _saying(*fault), None, messages, replies)
            elif group_problem:
                self._end(request, batch["group"], entry, topics.dead_letter, "dead-letter",
                          _saying(contract.UNKNOWN_GROUP, group_problem), None, messages, replies)
            else:
                pending.append(request)
        function = batch["function"]
        run, shed = shed_verdict(
            [(r["arrival_ms"] / 1000, r["slo_ms"] / 1000, bool(r.get("late"))) for r in pending],
            started, self._floor.seconds(function), self.settings.late_policy)
        for index, late_by in shed:
            request = pending[index]
            self._end(request, batch["group"], entry, topics.late, "late", [
                (contract.LATE_REASON, contract.QUEUED_PAST_SLO.encode()),
                (contract.LATE_BY, ("%.3f" % (late_by * 1000)).rstrip("0").rstrip(".").encode()),
            ], int(request["arrival_ms"]), messages, replies)
        runnable, payloads = [], []
        for request in (pending[i] for i in run):
            try:
                payloads.append(base64.b64decode(request["payload"], validate=True))
                runnable.append(request)
            except (ValueError, TypeError):
                self._end(request, batch["group"], entry, topics.dead_letter, "dead-letter",
                          _saying(contract.BAD_PAYLOAD, "the payload is not base64"), None,
                          messages, replies)
        outcome = None
        if payloads:
            outcome = call(self.handler, payloads, Function(
                function["kind"], float(function["vcpu"]), int(function.get("gpu_mem_gb") or 0)),
                self.settings.handler_timeout, self.clock)
        finished = self.clock()
        published = self.clock()
        end_to_end, ran = [], 0
        if outcome is not None and outcome.items is None:
            log.warning("batch %s: %s (%s); each of its %d requests ends as a dead letter",
                        entry.coordinates, outcome.code, outcome.detail, len(runnable))
        for position, request in enumerate(runnable):
            item = outcome.items[position] if outcome.items is not None else (
                "error", outcome.code, outcome.detail)
            if item[0] == "error":
                self._end(request, batch["group"], entry, topics.dead_letter, "dead-letter",
                          _saying(item[1], item[2]), None, messages, replies)
                continue
            ran += 1
            latency = max(0.0, published * 1000 - request["arrival_ms"])
            end_to_end.append(latency)
            result = {
                "request_id": request["id"], "app": request["app"], "batch_id": batch["batch_id"],
                "group": batch["group"], "backend": self.settings.backend, "emulated": False,
                **item[1],
                "slo_ms": request["slo_ms"], "arrival_ms": float(request["arrival_ms"]),
                "flushed_ms": batch["flushed_at_ms"], "received_ms": entry.received * 1000,
                "started_ms": started * 1000, "finished_ms": finished * 1000,
                "published_ms": published * 1000, "latency_ms": latency,
                "slo_met": latency <= request["slo_ms"], "late": bool(request.get("late")),
            }
            value = json.dumps(result, separators=(",", ":")).encode()
            carried = _carried(request)
            messages.append((topics.results, request["id"].encode(), value,
                             [(contract.SOURCE, entry.coordinates.encode())] + carried, None))
            reply = self._reply(carried, request["id"], "result", value, [])
            if reply:
                replies.append(reply)
            self.counts["result"] += 1
        if outcome is not None and outcome.items is not None and ran > 0:
            self._floor.observe(function, outcome.seconds)
            feedback = {
                "batch_id": batch["batch_id"], "group": batch["group"],
                "plan_version": batch["plan_version"], "function": function,
                "backend": self.settings.backend, "emulated": False, "batch_size": ran,
                "inference_s": outcome.seconds, "predicted_max_ms": batch["latency_max_ms"],
                "end_to_end_ms": end_to_end, "worker": self.settings.instance,
                "worker_group": self.settings.group, "flushed_ms": batch["flushed_at_ms"],
                "received_ms": entry.received * 1000, "started_ms": started * 1000,
                "finished_ms": finished * 1000, "published_ms": published * 1000,
            }
            if batch.get("intake_ms") is not None:
                feedback["intake_ms"] = batch["intake_ms"]
            messages.append((topics.feedback, batch["group"].encode(),
                             json.dumps(feedback, separators=(",", ":")).encode(), [], None))
        self.counts["ran"] += ran
        self._produce(entry, messages, replies)
        return ran, len(shed)

    def _refuse_whole(self, entry, detail):
        """A batch that cannot be read: one dead letter per request id it still names, else one
        for the record."""
        group, requests = contract.salvage(entry.value)
        done = entry.already_done
        if done:
            requests = [r for r in requests if r["id"] not in done]
            if not requests:
                self._produce(entry, [], [])
                return 0, 0
        log.warning("batch %s refused whole (%s); %s", entry.coordinates, detail,
                    "one dead letter for each of its %d request ids" % len(requests) if requests
                    else "no request id could be read from it: one dead letter for the record")
        messages, replies = [], []
        if not requests:
            messages.append((self.settings.topics.dead_letter, None, entry.value,
                             _saying(contract.BAD_BATCH, detail)
                             + [(contract.SOURCE, entry.coordinates.encode())], None))
        for request in requests:
            self._end(request, group or "", entry, self.settings.topics.dead_letter,
                      "dead-letter", _saying(contract.BAD_BATCH, detail), None, messages, replies)
        self._produce(entry, messages, replies)
        return 0, 0

    def _end(self, request, group, entry, topic, outcome, saying, timestamp, messages, replies):
        """One request ending without a result, on `topic`, with its reply."""
        self.counts[outcome] += 1
        headers = _carried(request) + [
            (contract.BATCH_SOURCE, entry.coordinates.encode()),
            (contract.REQUEST_ID, str(request.get("id", "")).encode()),
            (contract.APP, str(request.get("app", "")).encode()),
        ] + saying + [
            (contract.SOURCE, str(request.get("source", "")).encode()),
            (contract.GROUP, group.encode()),
        ]
        try:
            value = base64.b64decode(request.get("payload") or "", validate=True)
        except (ValueError, TypeError):
            value = str(request.get("payload") or "").encode()
        if len(value) > contract.MAX_RECORD_BYTES - 64 * 1024:
            headers.append((contract.VALUE_DROPPED_BYTES, str(len(value)).encode()))
            value = None
        messages.append((topic, str(request.get("app", "")).encode(), value, headers, timestamp))
        details = [h for h in saying]
        reply = self._reply(_carried(request), str(request.get("id", "")), outcome, None, details)
        if reply:
            replies.append(reply)

    def _reply(self, carried, request_id, outcome, value, details):
        topic = next((v.decode("utf-8", "replace") for k, v in reversed(carried)
                      if k == contract.REPLY_TOPIC), None)
        if topic is None or contract.reply_topic_problem(topic, self.settings.topics):
            return None
        if not self.settings.create_reply_topics and not self._reply_topic_exists(topic):
            return None
        headers = [(k, v) for k, v in carried if contract.is_carried(k)]
        headers += [(contract.REQUEST_ID, request_id.encode()),
                    (contract.OUTCOME, outcome.encode())] + details
        return (topic, request_id.encode(), value, headers, None)

    def _reply_topic_exists(self, topic):
        with self._reply_lock:
            if topic in self._reply_topics:
                return True
            now = time.monotonic()
            if now - self._reply_looked >= 2:
                self._reply_looked = now
                try:
                    self._reply_topics = set(self.producer.list_topics(timeout=5).topics)
                except KafkaException:
                    pass
                if topic in self._reply_topics:
                    return True
            self._dropped_replies += 1
            if now - self._dropped_logged >= 30:
                log.warning("%d replies not sent: their reply topics do not exist (%s); their "
                            "outcomes are on the pipeline's topics. Create each reply topic, or "
                            "let the broker create them with --create-reply-topics",
                            self._dropped_replies, topic)
                self._dropped_logged = now
                self._dropped_replies = 0
            return False

    def _produce(self, entry, messages, replies):
        """Produces a batch record's outputs; its offset may be committed once the broker has
        them all (a reply that fails is logged, not fatal)."""
        key = (entry.topic, entry.partition, entry.offset)
        total = len(messages) + len(replies)
        if total == 0:
            self._acked.append(key)
            return
        remaining = [total]
        lock = threading.Lock()

        def settle():
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self._acked.append(key)

        def delivered(error, message):
            if error is not None:
                self._fatal = self._fatal or "a record to %s was not delivered: %s" % (
                    message.topic(), error)
                self.stop.set()
                return
            settle()

        def replied(error, message):
            if error is not None:
                log.warning("a reply to %s was not delivered: %s", message.topic(), error)
            settle()

        for (topic, key_bytes, value, headers, timestamp), callback in (
                [(m, delivered) for m in messages] + [(r, replied) for r in replies]):
            kwargs = {"key": key_bytes, "value": value, "headers": headers,
                      "on_delivery": callback}
            if timestamp is not None:
                kwargs["timestamp"] = int(timestamp)
            while True:
                try:
                    self.producer.produce(topic, **kwargs)
                    break
                except BufferError:
                    self.producer.poll(0.05)

    # Reports

    def _report(self, leaving=False):
        now = self.clock()
        window = self.usage.close(now)
        waiting = self._queue.counts_by_partition()
        held = [] if leaving else self.consumer.assignment()
        lags = {}
        if held:
            try:
                for tp in self.consumer.position(held):
                    low, high = self.consumer.get_watermark_offsets(tp, cached=True) or (None, None)
                    if high is not None and high >= 0 and tp.offset >= 0:
                        lags[tp.partition] = max(0, high - tp.offset)
            except KafkaException:
                lags = {}
        lag = 0 if not held else (sum(lags.values()) if lags else None)
        topic = self.settings.topics.batches[self.settings.kind]
        if now - self._topic_partitions_at >= 30:
            try:
                found = self.producer.list_topics(topic, timeout=5).topics.get(topic)
                if found is not None and not found.error:
                    self._topic_partitions = len(found.partitions) or None
                self._topic_partitions_at = now
            except KafkaException:
                pass
        slots = self.settings.concurrency
        report = {
            "worker": self.settings.instance, "group": self.settings.group,
            "kind": self.settings.kind, "backend": self.settings.backend, "emulated": False,
            "slots": slots, "cores": os.cpu_count(),
            "window_start_ms": round(window["start"] * 1000),
            "window_end_ms": round(window["end"] * 1000),
            "busy_slots": window["busy_slots"], "utilisation": window["busy_slots"] / slots,
            "batches": window["batches"], "requests": window["requests"],
            "queue_wait_ms": percentiles([w * 1000 for w in window["waits"]]),
            "backlog": sum(waiting.values()), "lag": lag, "shed": window["shed"],
            "partitions": [{"partition": tp.partition, "backlog": waiting.get(tp.partition, 0),
                            "lag": lags.get(tp.partition)} for tp in held],
            "topic_partitions": self._topic_partitions,
        }
        if leaving:
            report["leaving"] = True
        self.producer.produce(self.settings.topics.workers, key=self.settings.instance.encode(),
                              value=json.dumps(report, separators=(",", ":")).encode())


def _saying(code, detail):
    return [(contract.ERROR, code.encode()), (contract.ERROR_DETAIL, detail.encode())]


def _carried(request):
    """The request's own headers, as Kafka headers again."""
    headers = []
    for header in request.get("headers") or []:
        if "value" in header and header["value"] is not None:
            value = header["value"].encode()
        elif header.get("base64") is not None:
            try:
                value = base64.b64decode(header["base64"])
            except (ValueError, TypeError):
                value = None
        else:
            value = None
        headers.append((header["name"], value))
    return headers


def _recovery_sources(message):
    """(batch coordinates, request id or None) an output names: a request's dead letter or late
    record in `hb-batch-source`, a result or a batch refused whole in `hb-source`."""
    headers = dict((k, v) for k, v in (message.headers() or []))
    if contract.BATCH_SOURCE in headers and headers[contract.BATCH_SOURCE] is not None:
        rid = headers.get(contract.REQUEST_ID)
        return [(headers[contract.BATCH_SOURCE].decode("utf-8", "replace"),
                 rid.decode("utf-8", "replace") if rid is not None else None)]
    source = headers.get(contract.SOURCE)
    if source is None:
        return []
    key = message.key()
    rid = key.decode("utf-8", "replace") if key is not None and contract.ERROR not in headers else None
    return [(source.decode("utf-8", "replace"), rid)]
