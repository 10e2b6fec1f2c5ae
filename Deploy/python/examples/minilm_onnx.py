"""MiniLM sentence embeddings on ONNX Runtime (CPU), from an ONNX graph built here from the model's
safetensors with ONNX Runtime's fused BERT operators — what its own transformer optimiser makes
of a BERT model, and what `harmonybatch bench inference` compares the Swift encoder with.

    pip install onnxruntime onnx numpy tokenizers
    harmonybatch-worker --kind cpu --handler minilm_onnx:MiniLM --bootstrap HOST:PORT

Each payload is a sentence (UTF-8 text); each output is its embedding: 384 floats, unit length,
mean-pooled over its tokens."""

import json
import os
import struct

import minilm_common as common

HIDDEN, HEADS, LAYERS, LN_EPS = 384, 12, 6, 1e-12


def load_safetensors(path):
    """{name: numpy array} of a .safetensors file (an 8-byte header length, a JSON header, data)."""
    import numpy as np

    kinds = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as file:
        size = struct.unpack("<Q", file.read(8))[0]
        header = json.loads(file.read(size))
        data = file.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in kinds:
            continue
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], kinds[entry["dtype"]]).reshape(entry["shape"])
    return tensors


def graph(directory):
    """The model as a serialised ONNX graph."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    t = {k: v.astype(np.float32) for k, v in load_safetensors(
        os.path.join(directory, "model.safetensors")).items() if v.dtype.kind == "f"}
    initializers, nodes = [], []

    def constant(name, array):
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, inputs, outputs, domain="", **attributes):
        nodes.append(helper.make_node(op, inputs, outputs, domain=domain, **attributes))
        return outputs[0]

    ms, e = "com.microsoft", "embeddings."
    # token_type_ids are all 0: that row of the type embedding is folded into the positions.
    positions = t[e + "position_embeddings.weight"] + t[e + "token_type_embeddings.weight"][0]
    node("Cast", ["input_ids"], ["ids32"], to=TensorProto.INT32)
    node("Cast", ["attention_mask"], ["mask32"], to=TensorProto.INT32)
    x = node("EmbedLayerNormalization", [
        "ids32", "", constant("word", t[e + "word_embeddings.weight"]),
        constant("position", positions), "", constant("emb_g", t[e + "LayerNorm.weight"]),
        constant("emb_b", t[e + "LayerNorm.bias"]), "mask32"], ["x0", "mask_index"],
        domain=ms, epsilon=LN_EPS)
    for i in range(LAYERS):
        def p(name, i=i):
            return t["encoder.layer.%d.%s" % (i, name)]

        s = "attention.self."
        qkv_w = np.concatenate([p(s + n + ".weight") for n in ("query", "key", "value")]).T
        qkv_b = np.concatenate([p(s + n + ".bias") for n in ("query", "key", "value")])
        a = node("Attention", [x, constant("qkv_w%d" % i, qkv_w), constant("qkv_b%d" % i, qkv_b),
                               "mask_index"], ["attention%d" % i], domain=ms, num_heads=HEADS)

        def project_add_norm(y, x, block, out, i=i, p=p):
            """LayerNorm(x + y W + b): the block's dense layer and LayerNorm, fused."""
            y = node("MatMul", [y, constant("%s_w%d" % (block, i), p(block + ".dense.weight").T)],
                     ["%s_projected%d" % (block, i)])
            return node("SkipLayerNormalization", [
                y, x, constant("%s_g%d" % (block, i), p(block + ".LayerNorm.weight")),
                constant("%s_lb%d" % (block, i), p(block + ".LayerNorm.bias")),
                constant("%s_b%d" % (block, i), p(block + ".dense.bias"))], [out], domain=ms,
                epsilon=LN_EPS)

        x = project_add_norm(a, x, "attention.output", "x%da" % i)
        f = node("MatMul", [x, constant("in_w%d" % i, p("intermediate.dense.weight").T)],
                 ["expanded%d" % i])
        f = node("BiasGelu", [f, constant("in_b%d" % i, p("intermediate.dense.bias"))],
                 ["gelu%d" % i], domain=ms)
        x = project_add_norm(f, x, "output", "x%d" % (i + 1))
    # Mean over real tokens, then unit length.
    node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT)
    node("Unsqueeze", ["mask_f", constant("axis2", np.array([2], np.int64))], ["mask_3d"])
    node("Mul", [x, "mask_3d"], ["masked"])
    node("ReduceSum", ["masked", constant("axis1", np.array([1], np.int64))], ["summed"],
         keepdims=0)
    node("ReduceSum", ["mask_f", "axis1"], ["counts"], keepdims=1)
    node("Max", ["counts", constant("tiny", np.array(1e-9, np.float32))], ["counts_safe"])
    node("Div", ["summed", "counts_safe"], ["pooled"])
    node("LpNormalization", ["pooled"], ["embeddings"], axis=-1, p=2)
    model = helper.make_model(
        helper.make_graph(
            nodes, "all-MiniLM-L6-v2",
            [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
             for n in ("input_ids", "attention_mask")],
            [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", HIDDEN])],
            initializer=initializers),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


class MiniLM:
    def load(self):
        import numpy as np
        import onnxruntime as ort

        self.np, self.ort = np, ort
        directory = common.model_dir()
        self.tokenizer = common.tokenizer(directory)
        self.graph = graph(directory)
        self.sessions = {}

    def session(self, threads):
        """One session per thread count (a function of c vCPU gets c threads, at least one)."""
        if threads not in self.sessions:
            options = self.ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[threads] = self.ort.InferenceSession(
                self.graph, options, providers=["CPUExecutionProvider"])
        return self.sessions[threads]

    def __call__(self, payloads, function):
        np = self.np
        items = common.texts(payloads)
        sentences = [item for item in items if not isinstance(item, Exception)]
        if not sentences:
            return items
        encoded = self.tokenizer.encode_batch(sentences)
        feed = {"input_ids": np.array([e.ids for e in encoded], np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], np.int64)}
        vectors = self.session(max(1, int(function.vcpu))).run(["embeddings"], feed)[0]
        return common.scatter(items, vectors.tolist())
