"""MiniLM sentence embeddings on PyTorch (Hugging Face transformers), on the GPU when there is one.

    pip install torch transformers tokenizers      # PyTorch's own instructions for a GPU build
    harmonybatch-worker --kind cpu --handler minilm_torch:MiniLM --bootstrap HOST:PORT
    harmonybatch-worker --kind gpu --handler minilm_torch:MiniLM --bootstrap HOST:PORT  # on a GPU

Each payload is a sentence (UTF-8 text); each output is its embedding: 384 floats, unit length,
mean-pooled over its tokens — what the built-in Swift MiniLM computes."""

import minilm_common as common


class MiniLM:
    def load(self):
        import torch
        import transformers

        self.torch = torch
        directory = common.model_dir()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = common.tokenizer(directory)
        self.model = transformers.AutoModel.from_pretrained(directory).eval().to(self.device)

    def __call__(self, payloads, function):
        torch = self.torch
        if self.device == "cpu":
            # A function of c vCPU gets c threads (at least one).
            torch.set_num_threads(max(1, int(function.vcpu)))
        items = common.texts(payloads)
        sentences = [item for item in items if not isinstance(item, Exception)]
        if not sentences:
            return items
        encoded = self.tokenizer.encode_batch(sentences)
        ids = torch.tensor([e.ids for e in encoded], device=self.device)
        mask = torch.tensor([e.attention_mask for e in encoded], device=self.device)
        with torch.inference_mode():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().tolist()
        return common.scatter(items, vectors)
