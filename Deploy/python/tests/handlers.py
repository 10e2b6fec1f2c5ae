"""Handlers the tests serve (Tests/PipelineTests/PythonWorkerTests.swift)."""

import sys
import time


def upper(payloads, function):
    """Each payload back as text, upper-cased."""
    return [payload.decode("utf-8", "replace").upper() for payload in payloads]


def slow(payloads, function):
    """As `upper`, a third of a second per batch: long enough to be killed in the middle. It says
    on standard error when it starts and ends a batch (named by its first payload), so that a test
    kills it while it holds one, and can tell that it did."""
    name = payloads[0].decode("utf-8", "replace") if payloads else ""
    print("slow: started %s" % name, file=sys.stderr, flush=True)
    time.sleep(0.3)
    print("slow: finished %s" % name, file=sys.stderr, flush=True)
    return upper(payloads, function)


class Picky:
    """A handler with a load step that fails in every way a handler can, by payload: `bad` is an
    item it cannot do, `crash` raises, `short` returns too few outputs, `hang` never returns in
    time, `bytes` returns bytes, `vector` a list of numbers; anything else is upper-cased."""

    def load(self):
        self.loaded = True

    def __call__(self, payloads, function):
        assert self.loaded
        texts = [payload.decode("utf-8", "replace") for payload in payloads]
        if "crash" in texts:
            raise RuntimeError("crashed on purpose")
        if "short" in texts:
            return []
        if "hang" in texts:
            time.sleep(30)
        outputs = []
        for text in texts:
            if text == "bad":
                outputs.append(ValueError("cannot do 'bad'"))
            elif text == "bytes":
                outputs.append(b"\x00\x01")
            elif text == "vector":
                outputs.append([0.5, 1.0, function.vcpu])
            else:
                outputs.append(text.upper())
        return outputs


def scaled(payloads, function):
    """Takes time as a model on `function.vcpu` threads would: 2 ms + 8 ms per payload shared by
    the threads (for the profiler's test)."""
    time.sleep(0.002 + 0.008 * len(payloads) / function.vcpu)
    return upper(payloads, function)


def scaled_slowly(payloads, function):
    """Three times `scaled`: a model slower than its profile says (the controller must learn it
    from the feedback)."""
    time.sleep(3 * (0.002 + 0.008 * len(payloads) / function.vcpu))
    return upper(payloads, function)
