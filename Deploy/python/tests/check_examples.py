"""check_examples.py HANDLER...: runs the MiniLM examples' handlers (minilm_onnx:MiniLM,
minilm_torch:MiniLM) as the worker would (Tests/PipelineTests/PythonWorkerTests): each gives
unit-length 384-float embeddings, a payload that is not UTF-8 is an exception in its place, and
two of them agree (cosine > 0.999). Prints one JSON line; exits 1 when a check fails."""

import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
sys.path.insert(0, os.path.join(HERE, ".."))

from harmonybatch_worker.handler import Function, load  # noqa: E402

SENTENCES = [b"Where is the nearest train station?", b"How do I reset my password?", b"\xff\xfe",
             b"The quick brown fox jumps over the lazy dog near the quiet river bank."]


def main():
    report, ok = {}, True
    outputs = {}
    for name in sys.argv[1:]:
        handler = load(name)
        out = handler(SENTENCES, Function("cpu", 2.0, 0))
        outputs[name] = out
        bad = out[2]
        vectors = [v for i, v in enumerate(out) if i != 2]
        norms = [math.sqrt(sum(x * x for x in v)) for v in vectors]
        checks = {
            "count": len(out) == len(SENTENCES),
            "not_utf8_is_an_exception": isinstance(bad, Exception),
            "dimensions": all(len(v) == 384 for v in vectors),
            "unit_length": all(abs(n - 1) < 1e-3 for n in norms),
        }
        report[name] = checks
        ok = ok and all(checks.values())
    if len(outputs) == 2:
        first, second = outputs.values()
        cosines = [sum(a * b for a, b in zip(first[i], second[i])) for i in (0, 1, 3)]
        report["lowest_cosine"] = min(cosines)
        ok = ok and min(cosines) > 0.999
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
