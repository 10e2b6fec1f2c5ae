"""`harmonybatch-worker profile`: measure your handler into a profile the controller plans with.

It calls the handler as the worker would — batches of your sample payloads, as functions of 1, 2,
… vCPU (your handler reads `function.vcpu` to size its threads) — and writes the measured average
and 99th percentile per (batch size, vCPU) (`Schemas/measurements.schema.json`). Then `harmonybatch
profile --measurements` fits them into a profile (`Schemas/profile.schema.json`) with the same fit
as the built-in MiniLM's: one implementation of the fit, in the `harmonybatch` binary. The profile
has no GPU part unless you add one, so plans from it use CPU functions only.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .handler import Function, HandlerError, load

USAGE_ERROR = 2


def _parser():
    parser = argparse.ArgumentParser(
        prog="harmonybatch-worker profile",
        description="Measure a handler over batch sizes and vCPU counts and fit a planner profile "
        "(harmonybatch profile --measurements does the fit).")
    parser.add_argument("--handler", required=True, metavar="MODULE:NAME", help="your model")
    parser.add_argument("--payloads", required=True, metavar="FILE",
                        help="sample payloads, one per line (UTF-8 text), used in turn")
    parser.add_argument("--out", metavar="FILE", help="the profile (default: standard output)")
    parser.add_argument("--measurements-out", metavar="FILE",
                        help="also keep the measurements here")
    parser.add_argument("--name", help="the profile's name (default: the handler's module)")
    parser.add_argument("--max-batch", type=int, default=4, metavar="B",
                        help="batch sizes 1..B (default 4)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="vCPU counts 1..N (default: the machine's cores)")
    parser.add_argument("--runs", type=int, default=20, metavar="N",
                        help="timed runs per point, after one warm-up (default 20)")
    parser.add_argument("--harmonybatch", metavar="PATH",
                        help="the harmonybatch binary that fits (default: harmonybatch on PATH)")
    return parser


def measure(handler, payloads, max_batch, threads, runs, progress=None):
    """[{batch, vcpu, avg_ms, p99_ms}] for batch sizes 1..max_batch at 1..threads vCPU."""
    points = []
    for vcpu in range(1, threads + 1):
        function = Function("cpu", float(vcpu), 0)
        for batch in range(1, max_batch + 1):
            inputs = [payloads[i % len(payloads)] for i in range(batch)]
            outputs = handler(inputs, function)  # warm-up, and a check
            if len(list(outputs)) != batch:
                raise HandlerError("the handler returned %d outputs for %d payloads"
                                   % (len(list(outputs)), batch))
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                handler(inputs, function)
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            rank = max(1, math.ceil(0.99 * len(samples)))
            point = {"batch": batch, "vcpu": float(vcpu),
                     "avg_ms": sum(samples) / len(samples), "p99_ms": samples[rank - 1]}
            points.append(point)
            if progress:
                progress(point)
    return points


def main(argv):
    args = _parser().parse_args(argv)
    for name, value, low, high in (("--max-batch", args.max_batch, 1, 1024),
                                   ("--threads", args.threads, 1, 1024),
                                   ("--runs", args.runs, 2, 100_000)):
        if not low <= value <= high:
            print("harmonybatch-worker profile: %s must be in %d...%d" % (name, low, high),
                  file=sys.stderr)
            return USAGE_ERROR
    fitter = args.harmonybatch or shutil.which("harmonybatch")
    if not fitter:
        print("harmonybatch-worker profile: the fit is done by the harmonybatch binary; put it on "
              "PATH or give --harmonybatch PATH", file=sys.stderr)
        return USAGE_ERROR
    try:
        with open(args.payloads, "rb") as file:
            payloads = [line.rstrip(b"\r\n") for line in file if line.strip()]
    except OSError as error:
        print("harmonybatch-worker profile: cannot read %s: %s" % (args.payloads, error),
              file=sys.stderr)
        return USAGE_ERROR
    if not payloads:
        print("harmonybatch-worker profile: %s has no payloads" % args.payloads, file=sys.stderr)
        return USAGE_ERROR
    try:
        handler = load(args.handler)
    except HandlerError as error:
        print("harmonybatch-worker profile: %s" % error, file=sys.stderr)
        return USAGE_ERROR

    def show(point):
        print("profile: batch %d, %.0f vCPU: avg %.2f ms, p99 %.2f ms"
              % (point["batch"], point["vcpu"], point["avg_ms"], point["p99_ms"]),
              file=sys.stderr)

    try:
        points = measure(handler, payloads, args.max_batch, args.threads, args.runs, show)
    except Exception as error:  # the user's handler
        print("harmonybatch-worker profile: the handler failed: %s: %s"
              % (type(error).__name__, error), file=sys.stderr)
        return 1
    measurements = {
        "name": args.name or args.handler.partition(":")[0],
        "source": "measured by 'harmonybatch-worker profile --handler %s' (%d cores, %d runs "
                  "per point)" % (args.handler, os.cpu_count() or 1, args.runs),
        "points": points,
    }
    path = args.measurements_out
    if path is None:
        handle, path = tempfile.mkstemp(suffix=".json", prefix="hb-measurements-")
        os.close(handle)
    with open(path, "w") as file:
        json.dump(measurements, file, indent=1)
    command = [fitter, "profile", "--measurements", path]
    if args.out:
        command += ["--out", args.out]
    try:
        return subprocess.call(command)
    finally:
        if args.measurements_out is None:
            os.unlink(path)
