"""Fit the practice detector's weights on the dev split of eval/practices.jsonl.

A logistic regression over the cue features of practices.py (no embeddings: the weights
then work for every model's index, and ingest needs no extra model run). Only `split: dev`
rows are read; the regularisation strength is chosen by 5-fold cross-validation on dev
with a fixed seed. Writes src/policymine/data/practice_weights.json.

    PYTHONPATH=src python eval/train_practices.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from policymine.practices import features

ROOT = Path(__file__).resolve().parents[1]
SEED = 11


def main() -> None:
    rows = [
        json.loads(line)
        for line in (ROOT / "eval/practices.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    dev = [r for r in rows if r["split"] == "dev"]
    names = sorted(features("x"))
    X = np.array([[features(r["text"])[n] for n in names] for r in dev])
    y = np.array([bool(r["is_practice"]) for r in dev])
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    scores = {
        c: cross_val_score(
            LogisticRegression(C=c, max_iter=1000), X, y, cv=folds, scoring="f1"
        ).mean()
        for c in (0.1, 0.3, 1, 3, 10)
    }
    best = max(scores, key=scores.get)
    model = LogisticRegression(C=best, max_iter=1000).fit(X, y)
    out = {
        "trained_on": "eval/practices.jsonl split=dev",
        "rows": len(dev),
        "C": best,
        "cv_f1": round(scores[best], 3),
        "bias": round(float(model.intercept_[0]), 4),
        "coef": {n: round(float(w), 4) for n, w in zip(names, model.coef_[0])},
    }
    path = ROOT / "src/policymine/data/practice_weights.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"C={best} cv F1 {scores[best]:.3f} on {len(dev)} dev rows -> {path.relative_to(ROOT)}")
    print({c: round(s, 3) for c, s in scores.items()})


if __name__ == "__main__":
    main()
