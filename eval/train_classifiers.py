"""Fit the learned passage classifiers (practice, instrument, status, topics) for each model.

    PYTHONPATH=src python eval/train_classifiers.py            # minilm and use
    PYTHONPATH=src python eval/train_classifiers.py --model minilm

Reads eval/passages.jsonl (labelled by reading, split by document: see eval/README.md).
Fits on `train` only. On `dev` it chooses the regularisation strength, calibrates each head
(Platt scaling per output for the sigmoid heads, a temperature for the softmax heads) and
picks the decision thresholds (the practice threshold and each topic's, by F1). `test` is
never read here. Writes src/policymine/data/classifiers-<model>.{npz,json}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from policymine.classify import Head, save
from policymine.cues import INSTRUMENTS, passage_features
from policymine.embed import get_embedder
from policymine.tag import TermMatcher, load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "eval" / "passages.jsonl"
STATUSES = ("planned", "adopted", "implemented")
CS = (0.01, 0.03, 0.1, 0.3, 1.0)
SEED = 16


def load_rows(path: Path = LABELS) -> list[dict]:
    """The labelled passages."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def named_features(rows: list[dict]) -> tuple[list[str], np.ndarray]:
    """(feature names, rows x features) of the non-embedding features."""
    matcher = TermMatcher(load_taxonomy())
    feats = [passage_features(r["text"], r["doc"], matcher.counts(r["text"])) for r in rows]
    names = sorted(feats[0])
    return names, np.array([[f[n] for n in names] for f in feats], dtype=np.float32)


def embeddings(rows: list[dict], model: str) -> np.ndarray:
    """The passages' vectors under `model`, cached in /tmp by the texts' digest."""
    texts = [r["text"] for r in rows]
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = Path(f"/tmp/policymine-train-{model}-{key}.npy")
    if cache.exists():
        return np.load(cache)
    embedder = get_embedder(model)
    vectors = np.vstack([embedder.embed_batch(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    np.save(cache, vectors)
    return vectors


def _best_f1_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The threshold on p that gives the best F1 on (p, y); 0.5 when y has no positive."""
    if not y.any():
        return 0.5
    best, best_t = -1.0, 0.5
    for t in np.arange(0.1, 0.91, 0.02):
        pred = p >= t
        tp = float((pred & y).sum())
        f1 = 2 * tp / max(1.0, pred.sum() + y.sum())
        if f1 > best + 1e-9:
            best, best_t = f1, float(t)
    return best_t


def _platt(logit: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and offset mapping raw logits to calibrated ones, fitted on dev."""
    if y.all() or not y.any():
        return 1.0, 0.0
    lr = LogisticRegression(C=100.0, max_iter=1000).fit(logit.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature (as a slope) that minimises dev log-loss."""
    best, best_s = np.inf, 1.0
    for s in np.exp(np.linspace(np.log(0.1), np.log(3.0), 40)):
        z = logits * s
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(len(y)), y].mean()
        if loss < best:
            best, best_s = loss, float(s)
    return best_s


def binary_head(x_tr, y_tr, x_dev, y_dev) -> tuple[Head, dict]:
    """A calibrated sigmoid head, C by dev log-loss, threshold by dev F1."""
    scores = {}
    for c in CS:
        lr = LogisticRegression(C=c, max_iter=2000).fit(x_tr, y_tr)
        p = np.clip(lr.predict_proba(x_dev)[:, 1], 1e-6, 1 - 1e-6)
        scores[c] = -np.mean(y_dev * np.log(p) + (1 - y_dev) * np.log(1 - p))
    c = min(scores, key=scores.get)
    lr = LogisticRegression(C=c, max_iter=2000).fit(x_tr, y_tr)
    logit = lr.decision_function(x_dev)
    a, b = _platt(logit, y_dev)
    p = 1 / (1 + np.exp(-(logit * a + b)))
    t = _best_f1_threshold(p, y_dev.astype(bool))
    head = Head(
        ("yes",),
        lr.coef_.T.copy(),
        lr.intercept_.copy(),
        np.array([a]),
        np.array([b]),
        np.array([t]),
        False,
    )
    return head, {"C": c, "threshold": round(t, 2)}


def softmax_head(x_tr, y_tr, x_dev, y_dev, classes) -> tuple[Head, dict]:
    """A calibrated multinomial head, C by dev accuracy."""
    scores, models = {}, {}
    for c in CS + (3.0,):
        lr = LogisticRegression(C=c, max_iter=3000).fit(x_tr, y_tr)
        full = np.zeros((len(x_dev), len(classes)))
        full[:, lr.classes_] = lr.predict_proba(x_dev)
        scores[c], models[c] = float((full.argmax(1) == y_dev).mean()), lr
    c = max(scores, key=scores.get)
    lr = models[c]
    w = np.zeros((x_tr.shape[1], len(classes)))
    b = np.full(len(classes), -30.0)  # a class never seen in training is never predicted
    w[:, lr.classes_] = lr.coef_.T
    b[lr.classes_] = lr.intercept_
    s = _temperature(x_dev @ w + b, y_dev)
    head = Head(
        tuple(classes), w, b, np.array([s]), np.zeros(len(classes)), np.zeros(len(classes)), True
    )
    return head, {"C": c, "dev_accuracy": round(scores[c], 3), "temperature_slope": round(s, 3)}


def topic_heads(x_tr, y_tr, x_dev, y_dev, topics) -> tuple[Head, dict]:
    """One calibrated sigmoid per topic, sharing C (by dev macro-F1), thresholds per topic."""
    best = None
    for c in CS:
        lrs = [
            LogisticRegression(C=c, max_iter=2000).fit(x_tr, y_tr[:, j]) for j in range(len(topics))
        ]
        f1s = []
        for j, lr in enumerate(lrs):
            pred = lr.predict(x_dev).astype(bool)
            y = y_dev[:, j].astype(bool)
            f1s.append(2 * (pred & y).sum() / max(1, pred.sum() + y.sum()))
        if best is None or np.mean(f1s) > best[0]:
            best = (float(np.mean(f1s)), c, lrs)
    _, c, lrs = best
    w = np.hstack([lr.coef_.T for lr in lrs])
    b = np.array([lr.intercept_[0] for lr in lrs])
    a_s, b_s, ts = [], [], []
    for j, lr in enumerate(lrs):
        logit = lr.decision_function(x_dev)
        a, off = _platt(logit, y_dev[:, j])
        p = 1 / (1 + np.exp(-(logit * a + off)))
        a_s.append(a)
        b_s.append(off)
        ts.append(min(0.7, max(0.2, _best_f1_threshold(p, y_dev[:, j].astype(bool)))))
    head = Head(tuple(topics), w, b, np.array(a_s), np.array(b_s), np.array(ts), False)
    return head, {"C": c, "thresholds": dict(zip(topics, [round(t, 2) for t in ts]))}


def train(model: str, rows: list[dict]) -> None:
    """Fit and write every head for one embedding model."""
    names, named = named_features(rows)
    vectors = embeddings(rows, model)
    x_all = np.hstack([vectors, named]).astype(np.float32)
    split = np.array([r["split"] for r in rows])
    tr, dev = split == "train", split == "dev"
    mean, std = x_all[tr].mean(0), x_all[tr].std(0) + 1e-6
    x = (x_all - mean) / std
    practice = np.array([bool(r["is_practice"]) for r in rows])
    heads, figures = {}, {}
    heads["practice"], figures["practice"] = binary_head(x[tr], practice[tr], x[dev], practice[dev])
    instruments = list(INSTRUMENTS)
    has_i = practice & np.array([r.get("instrument") in instruments for r in rows])
    yi = np.array(
        [
            instruments.index(r["instrument"]) if r.get("instrument") in instruments else -1
            for r in rows
        ]
    )
    heads["instrument"], figures["instrument"] = softmax_head(
        x[tr & has_i], yi[tr & has_i], x[dev & has_i], yi[dev & has_i], instruments
    )
    has_s = practice & np.array([r.get("status") in STATUSES for r in rows])
    ys = np.array(
        [STATUSES.index(r["status"]) if r.get("status") in STATUSES else -1 for r in rows]
    )
    heads["status"], figures["status"] = softmax_head(
        x[tr & has_s], ys[tr & has_s], x[dev & has_s], ys[dev & has_s], list(STATUSES)
    )
    topics = list(load_taxonomy().topics)
    yt = np.array([[t in r["topics"] for t in topics] for r in rows], dtype=np.int64)
    heads["topics"], figures["topics"] = topic_heads(x[tr], yt[tr], x[dev], yt[dev], topics)
    stem = ROOT / "src" / "policymine" / "data" / f"classifiers-{model}"
    meta = {
        "trained_on": "eval/passages.jsonl split=train; calibrated and thresholds on split=dev",
        "rows": {"train": int(tr.sum()), "dev": int(dev.sum())},
        "figures": figures,
    }
    save(str(stem), model, vectors.shape[1], names, mean, std, heads, meta)
    print(f"{model}: {int(tr.sum())} train, {int(dev.sum())} dev rows -> {stem.name}.npz")
    print(json.dumps(figures, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="minilm, use (default: both)")
    args = parser.parse_args()
    rows = load_rows()
    for model in args.model or ["minilm", "use"]:
        train(model, rows)


if __name__ == "__main__":
    main()
