"""Your model, as the worker calls it.

A handler is named `MODULE:NAME` (`--handler`), MODULE importable (the current directory is on the
path). NAME is either

- a function `handler(payloads, function)`, or
- a class: the worker makes one instance at start, calls its `load()` once if it has one (the
  place to read weights), then calls the instance: `instance(payloads, function)`.

`payloads` is a list of `bytes`, one per request of the batch, in order; `function` is a
`Function` (kind "cpu" or "gpu", vcpu, gpu_mem_gb) — the serverless function the plan runs this
batch as, to size threads or pick a device. The handler returns one output per payload, in the
same order:

- `bytes` (in the result as `output_base64`), `str` (`output_text`), or a list of numbers
  (`output`, like the built-in MiniLM's embedding);
- an `Exception` instance for an item it cannot do: that request alone ends as a dead letter
  (`bad-payload`, the exception's message as the detail), the others are results.

Raising fails the whole batch: each of its requests ends as a `handler-error` dead letter. A list
of the wrong length is a `bad-output` dead letter for each request. A batch that runs past
`--handler-timeout` is a `handler-timeout` dead letter for each request; the worker goes on (the
call itself cannot be stopped in Python: it is left to finish, its outputs dropped).
"""

import base64
import collections
import importlib
import math
import sys
import threading

Function = collections.namedtuple("Function", ["kind", "vcpu", "gpu_mem_gb"])


class HandlerError(Exception):
    """The handler cannot be loaded."""


def load(spec):
    """The callable `MODULE:NAME` names, loaded (a class is made and its `load()` called)."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise HandlerError("--handler wants MODULE:NAME, got '%s'" % spec)
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # the user's module: any error it raises on import
        raise HandlerError("cannot import %s: %s: %s" % (module_name, type(error).__name__, error))
    target = module
    for part in name.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise HandlerError("%s has no %s" % (module_name, name))
    if isinstance(target, type):
        try:
            target = target()
            if callable(getattr(target, "load", None)):
                target.load()
        except Exception as error:
            raise HandlerError("%s: %s: %s" % (spec, type(error).__name__, error))
    if not callable(target):
        raise HandlerError("%s is not callable" % spec)
    return target


class Outcome:
    """What became of one batch's call: per-item outputs (result fields or an error), or the
    batch's error."""

    def __init__(self, items=None, code=None, detail=None, seconds=0.0):
        self.items = items  # list of ("result", fields) | ("error", code, detail)
        self.code = code
        self.detail = detail
        self.seconds = seconds


def result_fields(output):
    """The result's output fields for one item, or None when the output is of no known kind."""
    if isinstance(output, (bytes, bytearray, memoryview)):
        return {"output_base64": base64.b64encode(bytes(output)).decode()}
    if isinstance(output, str):
        return {"output_text": output}
    if hasattr(output, "tolist"):  # numpy arrays, torch tensors on the CPU
        output = output.tolist()
    if isinstance(output, (list, tuple)) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            for x in output):
        return {"output": [float(x) for x in output]}
    return None


def call(handler, payloads, function, timeout, clock):
    """Runs the handler on a batch, at most `timeout` seconds; never raises."""
    box = {}

    def run():
        try:
            box["outputs"] = handler(payloads, function)
        except BaseException as error:  # the user's code: anything it raises is its batch's fault
            box["error"] = error

    thread = threading.Thread(target=run, name="hb-handler", daemon=True)
    started = clock()
    thread.start()
    thread.join(timeout)
    seconds = clock() - started
    if thread.is_alive():
        return Outcome(code="handler-timeout",
                       detail="the handler ran past --handler-timeout %g s" % timeout,
                       seconds=seconds)
    if "error" in box:
        error = box["error"]
        return Outcome(code="handler-error", detail="%s: %s" % (type(error).__name__, error),
                       seconds=seconds)
    outputs = box.get("outputs")
    try:
        outputs = list(outputs)
    except TypeError:
        return Outcome(code="bad-output", detail="the handler returned %s, not a list"
                       % type(outputs).__name__, seconds=seconds)
    if len(outputs) != len(payloads):
        return Outcome(code="bad-output", detail="the handler returned %d outputs for %d payloads"
                       % (len(outputs), len(payloads)), seconds=seconds)
    items = []
    for output in outputs:
        if isinstance(output, BaseException):
            items.append(("error", "bad-payload", "%s: %s" % (type(output).__name__, output)))
            continue
        fields = result_fields(output)
        if fields is None:
            items.append(("error", "bad-output", "an output of type %s (bytes, str or a list of "
                          "finite numbers)" % type(output).__name__))
        else:
            items.append(("result", fields))
    return Outcome(items=items, seconds=seconds)
