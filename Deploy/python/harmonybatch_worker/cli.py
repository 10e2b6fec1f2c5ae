"""`harmonybatch-worker`: the command line. Options mean what the Swift worker's options of the
same name mean; each may also come from `HARMONYBATCH_<OPTION>` (dashes as underscores) or from
a JSON `--config` file, the command line winning over the environment, the environment over the
file."""

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import __version__
from .handler import HandlerError, load

USAGE_ERROR = 2
SECRET_WORDS = ("password", "secret", "private.key", "jaas", "oauthbearer.config", "token")


class UsageError(Exception):
    pass


def _parser():
    parser = argparse.ArgumentParser(
        prog="harmonybatch-worker",
        description="Run your model on a HarmonyBatch pipeline's batches: a member of the worker "
        "pool hb-workers-<kind>, beside the Swift workers, doing everything the worker contract "
        "asks (docs/worker-contract.md).",
        epilog="'harmonybatch-worker profile --help': measure your handler into a profile. "
        "Each option may also be given as HARMONYBATCH_<OPTION> (dashes as underscores) "
        "or in a JSON --config file. SIGINT/SIGTERM: stop reading, finish the batches running, "
        "leave the others to the group, report leaving, leave the group; exit 0.")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    parser.add_argument("--kind", choices=["cpu", "gpu"], help="the pool: cpu (default) or gpu")
    parser.add_argument("--handler", metavar="MODULE:NAME",
                        help="your model: a function handler(payloads, function), or a class "
                        "with an optional load() whose instances are called so (required)")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="the Kafka brokers")
    parser.add_argument("--group", help="the consumer group (default hb-workers-<kind>)")
    parser.add_argument("--concurrency", type=int, metavar="N",
                        help="slots: batches run at once (default 1, at most 1024)")
    parser.add_argument("--handler-timeout", type=float, metavar="SECONDS",
                        help="a batch whose handler runs longer ends as handler-timeout dead "
                        "letters (default 60)")
    parser.add_argument("--late-policy", choices=["shed", "run"],
                        help="shed (default): a request whose batch starts too late for its SLO "
                        "is not run and ends on hb.late (queued-past-slo); run: run it anyway")
    parser.add_argument("--report-interval", type=float, metavar="SECONDS",
                        help="how often to report on hb.workers (default 1; 0: never)")
    parser.add_argument("--create-reply-topics", action="store_true", default=None,
                        help="send replies to topics that do not exist yet (default: only to "
                        "existing ones)")
    parser.add_argument("--topic-prefix", metavar="P", help="the pipeline's topics (default hb.)")
    parser.add_argument("--property", action="append", metavar="KEY=VALUE",
                        help="a librdkafka property (repeatable); secrets only in --config or "
                        "HARMONYBATCH_PROPERTY, never on the command line")
    parser.add_argument("--config", metavar="FILE", help="a JSON object of these options")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve /metrics, /healthz and /readyz on this port (default: none)")
    parser.add_argument("--metrics-address", metavar="IP",
                        help="the address it listens on (default 127.0.0.1)")
    parser.add_argument("--backend-name", metavar="NAME",
                        help="how results, feedback and reports name this backend (default "
                        "python:<handler>)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="default info")
    return parser


DEFAULTS = {
    "kind": "cpu", "bootstrap": None, "group": None, "concurrency": 1, "handler_timeout": 60.0,
    "late_policy": "shed", "report_interval": 1.0, "create_reply_topics": False,
    "topic_prefix": "hb.", "property": [], "metrics_port": None, "metrics_address": "127.0.0.1",
    "backend_name": None, "log_level": "info", "handler": None,
}


def options(argv, environ):
    """The settings from the command line, the environment and the config file."""
    parser = _parser()
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None and k != "config"}
    for name, value in list(given.items()):
        if name == "property":
            for text in value:
                key = text.partition("=")[0].lower()
                if any(word in key for word in SECRET_WORDS):
                    raise UsageError("--property %s is a secret: give it in a --config file or in "
                                     "HARMONYBATCH_PROPERTY, never on the command line" % key)
    merged = dict(DEFAULTS)
    config = args.config or environ.get("HARMONYBATCH_CONFIG")
    if config:
        try:
            with open(config) as file:
                data = json.load(file)
        except (OSError, ValueError) as error:
            raise UsageError("cannot read the config file '%s': %s" % (config, error))
        if not isinstance(data, dict):
            raise UsageError("the config file '%s' is not a JSON object" % config)
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in DEFAULTS:
                raise UsageError("the config file '%s' sets '%s', not an option of "
                                 "harmonybatch-worker" % (config, key))
            if name == "property" and isinstance(value, dict):
                value = ["%s=%s" % item for item in value.items()]
            merged[name] = value
    for name in DEFAULTS:
        text = environ.get("HARMONYBATCH_" + name.upper())
        if text:
            merged[name] = text.split(",") if name == "property" else text
    merged.update(given)
    return _checked(merged)


def _checked(values):
    def number(name, kind, low, high):
        try:
            value = kind(values[name])
        except (TypeError, ValueError):
            raise UsageError("--%s wants a number, got '%s'" % (name.replace("_", "-"), values[name]))
        if not low <= value <= high:
            raise UsageError("--%s must be in %g...%g, got %g" % (
                name.replace("_", "-"), low, high, value))
        return value

    if not values["handler"]:
        raise UsageError("give --handler MODULE:NAME (your model)")
    if not values["bootstrap"]:
        raise UsageError("give --bootstrap HOST:PORT (or HARMONYBATCH_BOOTSTRAP)")
    if values["kind"] not in ("cpu", "gpu"):
        raise UsageError("--kind must be cpu or gpu, got '%s'" % values["kind"])
    if values["late_policy"] not in ("shed", "run"):
        raise UsageError("--late-policy must be shed or run, got '%s'" % values["late_policy"])
    values["concurrency"] = number("concurrency", int, 1, 1024)
    values["handler_timeout"] = number("handler_timeout", float, 0.001, 86_400)
    values["report_interval"] = number("report_interval", float, 0, 3600)
    if values["metrics_port"] is not None:
        values["metrics_port"] = number("metrics_port", int, 0, 65535)
    flag = values["create_reply_topics"]
    if isinstance(flag, str):
        if flag.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise UsageError("HARMONYBATCH_CREATE_REPLY_TOPICS must be true or false")
        values["create_reply_topics"] = flag.lower() in ("1", "true", "yes")
    properties = {}
    for text in values["property"] or []:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise UsageError("--property wants KEY=VALUE, got '%s'" % text)
        properties[key.strip()] = value
    values["properties"] = properties
    return values


class _Health(BaseHTTPRequestHandler):
    worker = None

    def do_GET(self):
        worker = self.worker
        if self.path == "/healthz":
            self._send(200, "ok\n")
        elif self.path == "/readyz":
            ready = worker.ready and worker.reachable
            self._send(200 if ready else 503, "ready\n" if ready else "not ready\n")
        elif self.path == "/metrics":
            lines = ["# TYPE hb_worker_requests_total counter"]
            for outcome in ("result", "dead-letter", "late"):
                lines.append('hb_worker_requests_total{outcome="%s"} %d'
                             % (outcome, worker.counts[outcome]))
            self._send(200, "\n".join(lines) + "\n", "text/plain; version=0.0.4")
        else:
            self._send(404, "not found\n")

    def _send(self, status, body, kind="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main(argv=None, environ=None):
    environ = os.environ if environ is None else environ
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["profile"]:
        from .profile import main as profile

        return profile(argv[1:])
    try:
        values = options(argv, environ)
    except UsageError as error:
        print("harmonybatch-worker: %s" % error, file=sys.stderr)
        return USAGE_ERROR
    service = "%s-worker" % values["kind"]
    logging.basicConfig(
        level=getattr(logging, values["log_level"].upper(), logging.INFO),
        format="%(asctime)s.%(msecs)03dZ %(levelname)s " + service + ": %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S")
    logging.Formatter.converter = time.gmtime
    for level, name in ((logging.WARNING, "warning"), (logging.INFO, "info"),
                        (logging.ERROR, "error"), (logging.DEBUG, "debug")):
        logging.addLevelName(level, name)
    log = logging.getLogger("harmonybatch_worker")
    try:
        handler = load(values["handler"])
    except HandlerError as error:
        print("harmonybatch-worker: %s" % error, file=sys.stderr)
        return USAGE_ERROR
    from .worker import Settings, Worker  # after the handler: a usage error needs no Kafka

    settings = Settings(
        kind=values["kind"], bootstrap=values["bootstrap"], group=values["group"],
        topic_prefix=values["topic_prefix"], concurrency=values["concurrency"],
        handler_timeout=values["handler_timeout"], late_policy=values["late_policy"],
        report_interval=values["report_interval"],
        create_reply_topics=values["create_reply_topics"], properties=values["properties"],
        backend=values["backend_name"] or "python:" + values["handler"])
    stop = threading.Event()

    def on_signal(number, _frame):
        log.info("%s: stopping (running batches finish, the others stay with the group)",
                 signal.Signals(number).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = Worker(settings, handler, stop)
    if values["metrics_port"] is not None:
        _Health.worker = worker
        server = ThreadingHTTPServer((values["metrics_address"], values["metrics_port"]), _Health)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        log.info("metrics on http://%s:%d/metrics", values["metrics_address"],
                 server.server_address[1])
    try:
        worker.run()
    except RuntimeError as error:
        log.error("stopped: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
