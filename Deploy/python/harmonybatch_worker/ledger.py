"""The worker's bookkeeping, pure (no Kafka): which offsets may be committed, which requests ended
lately, which groups the plans have, the fastest run per function, and slot usage."""

import collections
import math
import threading


class PendingOffsets:
    """Offsets read per partition, in order; a partition's offset advances only over records whose
    outputs the broker has all acknowledged (or that produced nothing), never past one still in
    flight. Used from one thread."""

    def __init__(self):
        self._read = {}  # (topic, partition) -> deque of [offset, done]
        self._by_offset = {}  # (topic, partition, offset) -> entry

    def read(self, topic, partition, offset):
        entry = [offset, False]
        self._read.setdefault((topic, partition), collections.deque()).append(entry)
        self._by_offset[(topic, partition, offset)] = entry

    def done(self, topic, partition, offset):
        entry = self._by_offset.pop((topic, partition, offset), None)
        if entry is not None:
            entry[1] = True

    def advanced(self):
        """{(topic, partition): next offset to commit} for partitions that moved."""
        moved = {}
        for key, entries in self._read.items():
            last = None
            while entries and entries[0][1]:
                last = entries.popleft()[0]
            if last is not None:
                moved[key] = last + 1
        return moved

    def forget(self, partitions):
        for key in partitions:
            for offset, _ in self._read.pop(key, ()):
                self._by_offset.pop((key[0], key[1], offset), None)

    def outstanding(self, partitions):
        return sum(1 for key in partitions for entry in self._read.get(key, ()) if not entry[1])


class RecentRequests:
    """Requests this worker ended lately, by (source, id): a batch record produced twice ends each
    request once. Bounded; the oldest are forgotten first. Thread-safe."""

    def __init__(self, capacity=100_000):
        self._capacity = capacity
        self._members = collections.OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key):
        with self._lock:
            if key in self._members:
                return False
            self._members[key] = None
            if len(self._members) > self._capacity:
                self._members.popitem(last=False)
            return True


class KnownGroups:
    """The groups of the last `depth` plans in force, and solo groups holding only their app
    (KnownGroups.swift). Before any plan is seen every group runs."""

    SOLO = "solo:"

    def __init__(self, depth=64):
        self._plans = collections.deque(maxlen=depth)

    @property
    def saw_plan(self):
        return bool(self._plans)

    def adopt(self, plan):
        self._plans.append((plan.get("version") or 0, {g["id"] for g in plan["groups"]}))

    def knows(self, version):
        return any(v == version for v, _ in self._plans)

    def problem(self, group, plan_version, apps):
        if not self._plans:
            return None
        if group.startswith(self.SOLO):
            rest = group[len(self.SOLO):]
            if ":" not in rest:
                return "group %s is not of the form solo:<app>:<SLO ms>" % group
            app = rest[:rest.rindex(":")]
            other = next((a for a in apps if a != app), None)
            if other is not None:
                return "group %s serves app %s alone, but the batch holds a request of %s" % (
                    group, app, other)
            return None
        if any(v == plan_version and group in groups for v, groups in self._plans):
            return None
        return "group %s of plan v%d is in none of the last %d plans (the plan in force is v%d)" % (
            group, plan_version, len(self._plans), self._plans[-1][0])


def plan_groups(value):
    """The plan in a plan record, if it is one (a dict with a groups list whose entries name an
    id), else None. The controller and the Swift readers validate a plan whole; a worker only
    needs its groups."""
    import json
    try:
        plan = json.loads(value)
    except (ValueError, TypeError):
        return None
    if not isinstance(plan, dict) or not isinstance(plan.get("groups"), list):
        return None
    version = plan.get("version")
    if version is not None and (not isinstance(version, int) or not 1 <= version <= 2**31 - 1):
        return None
    if not all(isinstance(g, dict) and isinstance(g.get("id"), str) and g["id"]
               for g in plan["groups"]):
        return None
    if not plan["groups"] and not plan.get("infeasible"):
        return None
    return plan


class InferenceFloor:
    """The fastest run seen per function (seconds): a request is shed only when even that could
    not end within its SLO. Thread-safe, bounded."""

    CAPACITY = 256

    def __init__(self):
        self._fastest = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(function):
        return (function["kind"], float(function["vcpu"]), int(function.get("gpu_mem_gb") or 0))

    def observe(self, function, seconds):
        if not math.isfinite(seconds) or seconds < 0:
            return
        key = self.key(function)
        with self._lock:
            if key in self._fastest:
                self._fastest[key] = min(self._fastest[key], seconds)
            elif len(self._fastest) < self.CAPACITY:
                self._fastest[key] = seconds

    def seconds(self, function):
        with self._lock:
            return self._fastest.get(self.key(function), 0.0)


def shed_verdict(requests, started, floor, policy):
    """(indices to run, [(index, late by seconds)] to shed) — LateShedding.verdict. `requests`:
    (arrival s, slo s, late) each."""
    run, shed = [], []
    for index, (arrival, slo, late) in enumerate(requests):
        late_by = started + max(0.0, floor) - (arrival + slo)
        if policy == "shed" and not late and late_by > 0:
            shed.append((index, late_by))
        else:
            run.append(index)
    return run, shed


def nearest_rank(sorted_samples, q):
    """The smallest sample with at least q of them at or below it."""
    rank = max(1, math.ceil(q * len(sorted_samples)))
    return sorted_samples[min(rank, len(sorted_samples)) - 1]


def percentiles(samples):
    if not samples:
        return None
    ordered = sorted(samples)
    return {
        "p50": nearest_rank(ordered, 0.5), "p95": nearest_rank(ordered, 0.95),
        "p99": nearest_rank(ordered, 0.99), "max": ordered[-1], "count": len(ordered),
    }


class SlotUsage:
    """Slot-seconds spent running per window, batches and requests finished, waits for a slot,
    requests shed (SlotUsage.swift). Thread-safe."""

    def __init__(self, slots, start):
        self._slots = slots
        self._lock = threading.Lock()
        self._start = start
        self._running = {}  # token -> started
        self._busy = 0.0
        self._batches = 0
        self._requests = 0
        self._waits = []
        self._shed = 0

    def started(self, token, at, waited):
        with self._lock:
            self._running[token] = at
            self._waits.append(max(0.0, waited))

    def finished(self, token, at, requests):
        with self._lock:
            began = self._running.pop(token, at)
            self._busy += max(0.0, at - max(began, self._start))
            self._batches += 1
            self._requests += requests

    def shed(self, count):
        with self._lock:
            self._shed += count

    def close(self, at):
        """The window from the last close to `at`, and a new one from `at`."""
        with self._lock:
            busy = self._busy + sum(max(0.0, at - max(began, self._start))
                                    for began in self._running.values())
            length = max(1e-9, at - self._start)
            window = {
                "start": self._start, "end": at,
                "busy_slots": min(float(self._slots), busy / length),
                "batches": self._batches, "requests": self._requests,
                "waits": self._waits, "shed": self._shed,
            }
            self._start = at
            self._busy = 0.0
            self._batches = self._requests = self._shed = 0
            self._waits = []
            return window
