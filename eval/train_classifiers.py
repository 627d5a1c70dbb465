"""Fit the learned passage classifiers (practice, instrument, status, topics) for each model.

    PYTHONPATH=src python eval/train_classifiers.py            # minilm and use
    PYTHONPATH=src python eval/train_classifiers.py --model minilm

Reads eval/passages.jsonl (labelled by reading, split by document: see eval/README.md).
Fits on `train` only. On `dev` it chooses the regularisation strength and, for the practice,
instrument and status heads, the rank of the embedding (its first k principal components on
train, or all of it: a 384-dimensional embedding over 1,300 rows overfits), calibrates each head
(Platt scaling per output for the sigmoid heads, a temperature for the softmax heads) and
picks the decision thresholds (the practice threshold and each topic's, by F1). A projected
head is folded back into plain weights on the full standardised features, so inference stays
one matrix product (classify.py, numpy only). `test` is never read here. Writes
src/policymine/data/classifiers-<model>.{npz,json}.
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
# The ranks of the embedding tried per head (None: all of it), and the C tried with them.
RANKS = (16, 48, None)
RANK_CS = (0.001, 0.003, 0.01, 0.03, 0.1)
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


class Reduced:
    """The standardised features with the embedding replaced by its first k principal
    components (fitted on train), themselves standardised: `x @ a + c`, linear in `x`."""

    def __init__(self, x: np.ndarray, tr: np.ndarray, dense: int, rank: int | None, std):
        n = x.shape[1]
        if rank is None:
            self.a, self.c = np.eye(n), np.zeros(n)
            return
        # PCA of the raw embedding = PCA of the standardised one rescaled by std; fit on train
        raw = x[tr, :dense] * std[:dense]
        mu = raw.mean(0)
        _, _, vt = np.linalg.svd(raw - mu, full_matrices=False)
        p = vt[:rank].T  # (dense, rank)
        z = (x[tr, :dense] * std[:dense] - mu) @ p
        sz = z.std(0) + 1e-6
        self.a = np.zeros((n, rank + n - dense))
        self.a[:dense, :rank] = (std[:dense, None] * p) / sz
        self.a[dense:, rank:] = np.eye(n - dense)
        self.c = np.zeros(rank + n - dense)
        self.c[:rank] = (-mu @ p) / sz

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.a + self.c

    def fold(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights and bias on the full standardised features that give the same logits."""
        return self.a @ w, self.c @ w + b


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def binary_head(x, y, tr, dev, dense, std) -> tuple[Head, dict]:
    """A calibrated sigmoid head: the embedding's rank and C by dev log-loss, threshold by dev F1."""
    scores = {}
    for rank in RANKS:
        reduce = Reduced(x, tr, dense, rank, std)
        r = reduce(x)
        for c in RANK_CS:
            lr = LogisticRegression(C=c, max_iter=3000).fit(r[tr], y[tr])
            scores[(rank, c)] = (_log_loss(lr.predict_proba(r[dev])[:, 1], y[dev]), reduce, lr)
    (rank, c), (loss, reduce, lr) = min(scores.items(), key=lambda kv: kv[1][0])
    w, b = reduce.fold(lr.coef_.T, lr.intercept_)
    logit = (x[dev] @ w + b)[:, 0]
    assert np.allclose(logit, lr.decision_function(reduce(x[dev])), atol=1e-3)
    a, off = _platt(logit, y[dev])
    p = 1 / (1 + np.exp(-(logit * a + off)))
    t = _best_f1_threshold(p, y[dev].astype(bool))
    head = Head(("yes",), w, b, np.array([a]), np.array([off]), np.array([t]), False)
    pred = p >= t
    f1 = 2 * float((pred & y[dev]).sum()) / max(1.0, pred.sum() + y[dev].sum())
    return head, {
        "rank": rank or "all",
        "C": c,
        "threshold": round(t, 2),
        "dev_log_loss": round(loss, 3),
        "dev_f1": round(f1, 3),
    }


def softmax_head(x, y, tr, dev, dense, std, classes) -> tuple[Head, dict]:
    """A calibrated multinomial head: the embedding's rank and C by dev accuracy (ties: the
    lower dev log-loss), a temperature by dev log-loss."""
    scores = {}
    for rank in RANKS:
        reduce = Reduced(x, tr, dense, rank, std)
        r = reduce(x)
        for c in RANK_CS + (0.3,):
            lr = LogisticRegression(C=c, max_iter=3000).fit(r[tr], y[tr])
            full = np.full((int(dev.sum()), len(classes)), 1e-6)
            full[:, lr.classes_] = lr.predict_proba(r[dev])
            acc = float((full.argmax(1) == y[dev]).mean())
            loss = float(-np.log(full[np.arange(len(full)), y[dev]]).mean())
            scores[(rank, c)] = (acc, -loss, reduce, lr)
    (rank, c), (acc, _, reduce, lr) = max(scores.items(), key=lambda kv: kv[1][:2])
    w = np.zeros((x.shape[1], len(classes)))
    b = np.full(len(classes), -30.0)  # a class never seen in training is never predicted
    w[:, lr.classes_], b[lr.classes_] = reduce.fold(lr.coef_.T, lr.intercept_)
    s = _temperature(x[dev] @ w + b, y[dev])
    head = Head(
        tuple(classes), w, b, np.array([s]), np.zeros(len(classes)), np.zeros(len(classes)), True
    )
    return head, {
        "rank": rank or "all",
        "C": c,
        "dev_accuracy": round(acc, 3),
        "temperature_slope": round(s, 3),
    }


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
    return head, {
        "C": c,
        "dev_macro_f1": round(best[0], 3),
        "thresholds": dict(zip(topics, [round(t, 2) for t in ts])),
    }


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
    dense = vectors.shape[1]
    heads, figures = {}, {}
    heads["practice"], figures["practice"] = binary_head(x, practice, tr, dev, dense, std)
    for name, classes in (("instrument", list(INSTRUMENTS)), ("status", list(STATUSES))):
        # fitted and chosen on the true practices only: a non-practice has neither
        has = practice & np.array([r.get(name) in classes for r in rows])
        y = np.array([classes.index(r[name]) if r.get(name) in classes else -1 for r in rows])
        heads[name], figures[name] = softmax_head(
            x[has], y[has], tr[has], dev[has], dense, std, classes
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
