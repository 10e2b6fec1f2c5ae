"""HarmonyBatch's worker in Python: runs your model on the batches of a HarmonyBatch pipeline.

`harmonybatch-worker --kind cpu --handler mymodel:Model --bootstrap HOST:PORT` joins the worker
pool `hb-workers-cpu` beside the Swift workers and does what the worker contract
(docs/worker-contract.md) asks of every worker: results, dead letters and late records per
request, replies, feedback with its five timestamps, reports on `hb.workers`, offsets committed
only after the broker has everything made from them, recovery that skips what was done, and a
graceful stop. Your handler only maps payloads to outputs.
"""

__version__ = "0.1.0"
