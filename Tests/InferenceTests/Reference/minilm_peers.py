#!/usr/bin/env python3
"""The engines `harmonybatch bench inference` compares our MiniLM encoder with.

  python3 minilm_peers.py setup                      # pip-installs what the peers need, if absent
  python3 minilm_peers.py serve PEER MODEL_DIR --threads N

PEER is one of:
  numpy        the numpy reference in minilm_reference.py (BLAS from numpy's wheel)
  torch        PyTorch: Hugging Face transformers' BertModel on the model directory, eval mode,
               torch.inference_mode(), torch.set_num_threads(N), mean pooling and L2 norm
  onnxruntime  ONNX Runtime's CPU provider on an ONNX graph built here from model.safetensors
               with the `onnx` package, using ORT's fused BERT operators (EmbedLayerNormalization,
               Attention, SkipLayerNormalization, BiasGelu), which is what ORT's own transformer
               optimiser makes of a BERT model; intra-op threads N, all graph optimisations on

`serve` answers one JSON object per line on stdout. The first says
{"peer": ..., "version": ...} when the peer loaded, or {"missing": REASON} (then it exits 0).
Then, for each request line on stdin:
  {"ids": [[int, ...], ...], "seconds": S}  -> {"sentences_per_s": X}: one warm-up call, then
      calls until S seconds have passed (token ids are given, so tokenising is not timed;
      sequences of different lengths are padded to the longest, as each engine's users do)
  {"ids": [[...]], "embed": true}           -> {"embeddings": [[float, ...], ...]}
An empty line or end of input ends the process.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ("numpy", "torch", "onnxruntime")
# module -> PyPI package, per peer
REQUIREMENTS = {"numpy": {"numpy": "numpy"},
                "torch": {"torch": "torch", "transformers": "transformers"},
                "onnxruntime": {"onnxruntime": "onnxruntime", "onnx": "onnx"}}


def padded(np, batch):
    """ids [B, L] and mask [B, L] (int64), right-padded with 0 to the longest sequence."""
    longest = max(len(s) for s in batch)
    ids = np.zeros((len(batch), longest), np.int64)
    mask = np.zeros((len(batch), longest), np.int64)
    for row, sequence in enumerate(batch):
        ids[row, :len(sequence)] = sequence
        mask[row, :len(sequence)] = 1
    return ids, mask


class NumpyPeer:
    def __init__(self, model_dir, threads):
        # OPENBLAS_NUM_THREADS is set by the caller before numpy loads.
        sys.path.insert(0, HERE)
        import numpy as np
        import minilm_reference as reference
        self.np, self.reference = np, reference
        self.model = reference.MiniLM(model_dir)
        self.version = f"numpy {np.__version__}"

    def prepare(self, batch):
        return padded(self.np, batch)

    def run(self, prepared):
        ids, mask = prepared
        return self.model.forward(ids, mask, erf=self.reference.erf_fast)


class TorchPeer:
    def __init__(self, model_dir, threads):
        import numpy as np
        import torch
        import transformers
        torch.set_num_threads(threads)
        self.np, self.torch = np, torch
        self.model = transformers.AutoModel.from_pretrained(model_dir).eval()
        self.version = f"torch {torch.__version__}, transformers {transformers.__version__}"

    def prepare(self, batch):
        ids, mask = padded(self.np, batch)
        return self.torch.from_numpy(ids), self.torch.from_numpy(mask)

    def run(self, prepared):
        torch = self.torch
        ids, mask = prepared
        with torch.inference_mode():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def onnx_graph(model_dir):
    """The model as an ONNX graph with ORT's fused BERT operators (com.microsoft domain): the one
    the Python worker's ONNX Runtime example builds (Deploy/python/examples/minilm_onnx.py)."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "Deploy", "python", "examples"))
    from minilm_onnx import graph
    return graph(model_dir)


class OnnxRuntimePeer:
    def __init__(self, model_dir, threads):
        import numpy as np
        import onnxruntime as ort
        self.np = np
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(onnx_graph(model_dir), options,
                                            providers=["CPUExecutionProvider"])
        self.version = f"onnxruntime {ort.__version__}"

    def prepare(self, batch):
        ids, mask = padded(self.np, batch)
        return {"input_ids": ids, "attention_mask": mask}

    def run(self, prepared):
        return self.session.run(["embeddings"], prepared)[0]


def cmd_setup(_args):
    """Installs each peer's missing modules from PyPI; reports (never hides) what failed."""
    import importlib.util
    failed = []
    for peer in PEERS:
        for module, package in REQUIREMENTS[peer].items():
            if importlib.util.find_spec(module) is not None:
                continue
            print(f"minilm_peers: installing {package} from PyPI for {sys.executable}",
                  file=sys.stderr)
            command = [sys.executable, "-m", "pip", "install", "-q", package]
            if subprocess.run(command, stdout=sys.stderr).returncode != 0 and subprocess.run(
                    command + ["--break-system-packages"], stdout=sys.stderr).returncode != 0:
                failed.append(package)
    if failed:
        print(f"minilm_peers: could not install {', '.join(failed)}", file=sys.stderr)
    return 0


def cmd_serve(args):
    peers = {"numpy": NumpyPeer, "torch": TorchPeer, "onnxruntime": OnnxRuntimePeer}
    try:
        peer = peers[args.peer](args.model_dir, args.threads)
    except Exception as error:  # a missing module or a failed load: the caller reports it
        print(json.dumps({"missing": f"{type(error).__name__}: {error}"}), flush=True)
        return 0
    print(json.dumps({"peer": args.peer, "version": peer.version}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        request = json.loads(line)
        prepared = peer.prepare(request["ids"])
        if request.get("embed"):
            embeddings = peer.run(prepared)
            print(json.dumps({"embeddings": [[float(v) for v in row] for row in embeddings]}),
                  flush=True)
            continue
        peer.run(prepared)  # warm-up
        calls, start = 0, time.perf_counter()
        while True:
            peer.run(prepared)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= request["seconds"]:
                break
        print(json.dumps({"sentences_per_s": calls * len(request["ids"]) / elapsed}),
              flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    serve = sub.add_parser("serve")
    serve.add_argument("peer", choices=PEERS)
    serve.add_argument("model_dir")
    serve.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    return {"setup": cmd_setup, "serve": cmd_serve}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
