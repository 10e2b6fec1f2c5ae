"""Names, codes and limits of the worker contract (docs/worker-contract.md), the same as the Swift
worker's (Sources/PipelineCore: HeaderName, ReasonCode, RequestLimits, ReplyTopic)."""

import re


class Topics:
    """The pipeline's topics under a prefix (default `hb.`)."""

    def __init__(self, prefix="hb."):
        self.prefix = prefix
        self.requests = prefix + "requests"
        self.grouped = prefix + "grouped"
        self.batches = {"cpu": prefix + "batches.cpu", "gpu": prefix + "batches.gpu"}
        self.plans = prefix + "plans"
        self.dead_letter = prefix + "dead-letter"
        self.late = prefix + "late"
        self.results = prefix + "results"
        self.feedback = prefix + "feedback"
        self.rates = prefix + "rates"
        self.workers = prefix + "workers"
        self.scaling = prefix + "scaling"
        self.all = {
            self.requests, self.grouped, self.batches["cpu"], self.batches["gpu"], self.plans,
            self.dead_letter, self.late, self.results, self.feedback, self.rates, self.workers,
            self.scaling,
        }


# Headers (Schemas/headers.md).
REQUEST_ID = "hb-request-id"
APP = "hb-app"
GROUP = "hb-group"
ERROR = "hb-error"
ERROR_DETAIL = "hb-error-detail"
SOURCE = "hb-source"
BATCH_SOURCE = "hb-batch-source"
LATE_REASON = "hb-late-reason"
LATE_BY = "hb-late-by-ms"
VALUE_DROPPED_BYTES = "hb-value-dropped-bytes"
REPLY_TOPIC = "hb-reply-topic"
OUTCOME = "hb-outcome"

QUEUED_PAST_SLO = "queued-past-slo"


def is_carried(name):
    """A request's header that travels to its result and reply: every one but the pipeline's
    own (`hb-…`), except `hb-reply-topic`."""
    return not name.startswith("hb-") or name == REPLY_TOPIC


# Dead-letter reason codes a worker uses (Sources/PipelineCore/Messages/ReasonCode.swift).
MISSING_APP = "missing-app"
BAD_KEY = "bad-key"
BAD_REQUEST_ID = "bad-request-id"
BAD_HEADERS = "bad-headers"
BAD_BATCH = "bad-batch"
UNKNOWN_GROUP = "unknown-group"
BAD_PAYLOAD = "bad-payload"
BAD_OUTPUT = "bad-output"
HANDLER_ERROR = "handler-error"
HANDLER_TIMEOUT = "handler-timeout"

# Limits (RequestLimits, RecordLimits, FieldBounds).
MAX_REQUEST_ID_BYTES = 256
MAX_HEADERS = 64
MAX_HEADER_NAME_BYTES = 256
MAX_APP_BYTES = 128
MAX_RECORD_BYTES = 1_000_000 - 4_096
MAX_BATCH_SIZE = 1024
MAX_MS = 3_600_000
EPOCH_MS_MAX = 1e13

_APP_ID = re.compile(r"^[A-Za-z0-9._\-:@/+]+$")
_TOPIC = re.compile(r"^[A-Za-z0-9._\-]+$")


def request_problem(request):
    """(code, detail) when a request of a batch cannot be run, else None: the limits the router
    applies, then its numbers."""
    app = request.get("app")
    if not isinstance(app, str) or not app:
        return MISSING_APP, "the record has no key (the app id)"
    if len(app.encode()) > MAX_APP_BYTES or not _APP_ID.match(app):
        return BAD_KEY, "the app id is not 1 to %d bytes of letters, digits and ._-:@/+ (the key)" % MAX_APP_BYTES
    rid = request.get("id")
    if not isinstance(rid, str) or not 1 <= len(rid.encode()) <= MAX_REQUEST_ID_BYTES:
        return BAD_REQUEST_ID, "the request id is not 1 to %d bytes" % MAX_REQUEST_ID_BYTES
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rid):
        return BAD_REQUEST_ID, "the request id has control characters"
    headers = request.get("headers") or []
    if len(headers) > MAX_HEADERS:
        return BAD_HEADERS, "%d headers; at most %d" % (len(headers), MAX_HEADERS)
    for header in headers:
        name = header.get("name") if isinstance(header, dict) else None
        if not isinstance(name, str) or not 1 <= len(name.encode()) <= MAX_HEADER_NAME_BYTES:
            return BAD_HEADERS, "a header name is not 1 to %d bytes" % MAX_HEADER_NAME_BYTES
    problems = []
    if not _number_in(request.get("slo_ms"), 0.001, MAX_MS):
        problems.append("slo_ms")
    for field in ("arrival_ms", "deadline_ms"):
        if not _number_in(request.get(field), 0, EPOCH_MS_MAX):
            problems.append(field)
    if not isinstance(request.get("payload"), str):
        problems.append("payload")
    if problems:
        return BAD_BATCH, "the request's %s out of range or missing" % ", ".join(problems)
    return None


def batch_problem(batch):
    """Why a decoded batch is refused whole, else None (BatchMessage.checks)."""
    problems = []
    for field in ("batch_id", "group", "batcher"):
        value = batch.get(field)
        if not isinstance(value, str) or not value or len(value.encode()) > 1024:
            problems.append(field)
    if not _int_in(batch.get("plan_version"), 0, 2**31 - 1):
        problems.append("plan_version")
    function = batch.get("function")
    if not isinstance(function, dict) or function.get("kind") not in ("cpu", "gpu") \
            or not _number_in(function.get("vcpu"), 0.001, 1024):
        problems.append("function")
    elif function["kind"] == "gpu" and not _int_in(function.get("gpu_mem_gb"), 1, 1024):
        problems.append("function gpu_mem_gb")
    elif function["kind"] == "cpu" and function.get("gpu_mem_gb", 0) not in (0, None):
        problems.append("function gpu_mem_gb")
    if not _int_in(batch.get("batch_size"), 1, MAX_BATCH_SIZE):
        problems.append("batch_size")
    if not _number_in(batch.get("flushed_at_ms"), 0, EPOCH_MS_MAX):
        problems.append("flushed_at_ms")
    if not _number_in(batch.get("latency_max_ms"), 0, MAX_MS):
        problems.append("latency_max_ms")
    if batch.get("intake_ms") is not None and not _number_in(batch.get("intake_ms"), 0, 86_400_000):
        problems.append("intake_ms")
    requests = batch.get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH_SIZE \
            or not all(isinstance(r, dict) for r in requests):
        problems.append("requests")
    return ("out of range or missing: " + ", ".join(problems)) if problems else None


def salvage(value):
    """What can still be read of a batch record that is refused: its group and the requests that
    name an id (each ends alone, with its reply)."""
    import json
    try:
        batch = json.loads(value)
    except (ValueError, TypeError):
        return None, []
    if not isinstance(batch, dict) or not isinstance(batch.get("requests"), list):
        return None, []
    seen, requests = set(), []
    for entry in batch["requests"][:MAX_BATCH_SIZE]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            continue
        if entry["id"] in seen:
            continue
        seen.add(entry["id"])
        headers = [h for h in (entry.get("headers") or [])[:MAX_HEADERS]
                   if isinstance(h, dict) and isinstance(h.get("name"), str) and h["name"]]
        requests.append({
            "id": entry["id"], "app": entry.get("app") if isinstance(entry.get("app"), str) else "",
            "source": entry.get("source") if isinstance(entry.get("source"), str) else "",
            "payload": entry.get("payload") if isinstance(entry.get("payload"), str) else "",
            "headers": headers,
        })
    group = batch.get("group") if isinstance(batch.get("group"), str) else None
    return group, requests


def reply_topic_problem(name, topics):
    """Why `name` cannot be a reply topic, else None (ReplyTopic.problem)."""
    if not name or len(name.encode()) > 249:
        return "hb-reply-topic must be 1 to 249 characters long"
    if name in (".", "..") or not _TOPIC.match(name):
        return "hb-reply-topic is not a Kafka topic name"
    if name in topics.all:
        return "hb-reply-topic is one of the pipeline's own topics"
    if name.startswith("__"):
        return "hb-reply-topic is a broker's internal topic"
    return None


def _number_in(value, low, high):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value == value and low <= value <= high


def _int_in(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
