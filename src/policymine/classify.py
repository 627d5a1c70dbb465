"""Learned passage classifiers: linear models over what ingest already has.

Each head is a logistic regression over one feature vector per passage: its embedding (the
index's model), the transparent cue features of practices.py, the taxonomy's term evidence
per topic (tag.py) and a few structure and document-stage features. The weights were fitted
by eval/train_classifiers.py on the train split of eval/labels (split by document), their
calibration and decision thresholds chosen on the dev split, and they ship as package data,
one file per embedding model (`data/classifiers-<model>.npz`). Inference is numpy only: a head
trained on the first principal components of the embedding ships folded back into weights on
the full features, so every head is one matrix product.

Heads:
- `practice`: is the passage a concrete practice (a calibrated probability);
- `instrument`: which of the 8 instrument types (softmax);
- `status`: planned, adopted or implemented (softmax);
- `topics`: the 13 default topics, one calibrated probability each.

`version` is a digest of the weights: stored practice records name the detector version that
made them, so an index rebuilds its records when the shipped weights change.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Head:
    """One linear head: standardised features -> logits -> calibrated probabilities."""

    classes: tuple[str, ...]
    weights: np.ndarray  # (features, outputs)
    bias: np.ndarray  # (outputs,)
    scale: np.ndarray  # (outputs,) calibration slope (Platt) per output, or one temperature
    shift: np.ndarray  # (outputs,) calibration offset
    thresholds: np.ndarray  # (outputs,) decision threshold on the calibrated probability
    softmax: bool

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(rows, outputs) calibrated probabilities for standardised features `x`."""
        logits = (x @ self.weights + self.bias) * self.scale + self.shift
        if self.softmax:
            logits = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            return e / e.sum(axis=1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-logits))


@dataclass(frozen=True)
class Classifiers:
    """The learned heads for one embedding model, with the feature layout they expect."""

    model: str
    dense_dim: int
    feature_names: tuple[str, ...]  # the non-embedding features, in order
    mean: np.ndarray
    std: np.ndarray
    heads: dict[str, Head]
    version: str
    meta: dict

    def matrix(self, vectors: np.ndarray, features: list[dict[str, float]]) -> np.ndarray:
        """Standardised (rows, features) input: the embeddings, then the named features."""
        named = np.array(
            [[f.get(n, 0.0) for n in self.feature_names] for f in features], dtype=np.float32
        ).reshape(len(features), len(self.feature_names))
        x = np.hstack([np.asarray(vectors, dtype=np.float32).reshape(len(features), -1), named])
        return (x - self.mean) / self.std

    def predict(self, head: str, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of one head for a standardised matrix."""
        return self.heads[head].probabilities(x)


def _heads(data: np.lib.npyio.NpzFile, meta: dict) -> dict[str, Head]:
    return {
        name: Head(
            classes=tuple(spec["classes"]),
            weights=data[f"{name}.weights"],
            bias=data[f"{name}.bias"],
            scale=data[f"{name}.scale"],
            shift=data[f"{name}.shift"],
            thresholds=data[f"{name}.thresholds"],
            softmax=bool(spec["softmax"]),
        )
        for name, spec in meta["heads"].items()
    }


@cache
def load(model: str) -> Classifiers | None:
    """The shipped classifiers for an embedding model, or None when none ship for it."""
    base = resources.files("policymine").joinpath("data")
    weights, described = (
        base.joinpath(f"classifiers-{model}.npz"),
        base.joinpath(f"classifiers-{model}.json"),
    )
    if not weights.is_file() or not described.is_file():
        return None
    raw = weights.read_bytes()
    meta = json.loads(described.read_text("utf-8"))
    with np.load(io.BytesIO(raw)) as data:
        heads = _heads(data, meta)
        mean, std = data["mean"], data["std"]
    return Classifiers(
        model=model,
        dense_dim=int(meta["dense_dim"]),
        feature_names=tuple(meta["feature_names"]),
        mean=mean,
        std=std,
        heads=heads,
        version=hashlib.sha256(raw).hexdigest()[:12],
        meta=meta,
    )


def save(
    path_stem: str,
    model: str,
    dense_dim: int,
    feature_names: list[str],
    mean: np.ndarray,
    std: np.ndarray,
    heads: dict[str, Head],
    meta: dict,
) -> None:
    """Write a model's heads as `<stem>.npz` (arrays) and `<stem>.json` (layout, figures)."""
    arrays = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    for name, head in heads.items():
        for part in ("weights", "bias", "scale", "shift", "thresholds"):
            arrays[f"{name}.{part}"] = np.asarray(getattr(head, part), dtype=np.float32)
    np.savez_compressed(f"{path_stem}.npz", **arrays)
    described = {
        **meta,
        "model": model,
        "dense_dim": dense_dim,
        "feature_names": feature_names,
        "heads": {
            name: {"classes": list(h.classes), "softmax": h.softmax} for name, h in heads.items()
        },
    }
    with open(f"{path_stem}.json", "w", encoding="utf-8") as fh:
        json.dump(described, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
