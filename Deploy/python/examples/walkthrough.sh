#!/usr/bin/env bash
# walkthrough.sh: the README walk-through for the ONNX example in one script: profile the
# handler, plan, then the pipeline as processes on an embedded broker (controller, batcher, one
# Python worker), Poisson load for DURATION seconds (default 60), and a count of the outcomes.
# Needs a release build (swift build -c release), kcat, and the example's Python packages.
# Environment: DURATION, RUNS (profiler runs per point, default 10), SLOTS (default 2), WALK_DIR.
set -u
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
export PATH="$ROOT/.build/release:$PATH"
W="${WALK_DIR:-$(mktemp -d)}"; mkdir -p "$W"; cd "$ROOT/Deploy/python/examples"
export PYTHONPATH="$ROOT/Deploy/python"
python3 -m harmonybatch_worker profile --handler minilm_onnx:MiniLM --payloads sentences.txt --out $W/minilm-onnx.json --runs ${RUNS:-10} 2> $W/profile.log || { tail $W/profile.log; exit 1; }
harmonybatch plan --profile $W/minilm-onnx.json --apps apps.json > $W/plan.txt 2>&1; cat $W/plan.txt
harmonybatch broker > $W/broker.out 2> $W/broker.err & BROKER=$!
sleep 2; B=$(head -1 $W/broker.out)
harmonybatch controller --profile $W/minilm-onnx.json --apps apps.json --bootstrap $B 2> $W/controller.log & C=$!
harmonybatch batcher --bootstrap $B 2> $W/batcher.log & BA=$!
python3 -m harmonybatch_worker --kind cpu --handler minilm_onnx:MiniLM --concurrency ${SLOTS:-2} --bootstrap $B 2> $W/worker1.log & W1=$!
sleep 15
harmonybatch produce --apps apps.json --duration ${DURATION:-60} --bootstrap $B 2> $W/produce.log
sleep 10
kcat -C -b $B -t hb.results -e -q -f '%s\n' > $W/results.jsonl
kcat -C -b $B -t hb.late -e -q -f '%k\n' > $W/late.txt
kcat -C -b $B -t hb.dead-letter -e -q -f '%k\n' > $W/dead.txt
kcat -C -b $B -t hb.requests -e -q -f '%k\n' > $W/requests.txt
kcat -C -b $B -t hb.plans -e -q -f '%s\n' > $W/plans.jsonl
kill -TERM $W1 $BA $C; wait $W1 $BA $C; kill -TERM $BROKER
python3 - <<PY
import json
res=[json.loads(l) for l in open("$W/results.jsonl") if l.strip()]
req=sum(1 for l in open("$W/requests.txt") if l.strip())
late=sum(1 for l in open("$W/late.txt") if l.strip()); dead=sum(1 for l in open("$W/dead.txt") if l.strip())
ids=[r["request_id"] for r in res]
met=sum(r["slo_met"] for r in res)
print("requests %d results %d late %d dead %d missing %d twice %d within SLO %.2f %%" % (req, len(res), late, dead, req-len(set(ids))-late-dead, len(ids)-len(set(ids)), 100.0*met/max(1,req)))
plans=[json.loads(l) for l in open("$W/plans.jsonl") if l.strip()]
for p in plans: print("plan v%s %s %s" % (p.get("version"), [ (g["id"], g["function"], g["batch_size"]) for g in p["groups"]], (p.get("reason") or "")[:80]))
PY
