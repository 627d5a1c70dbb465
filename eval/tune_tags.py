"""Tune the topic-score blend on the dev split only (the test split stays untouched).

Scores are term evidence `1 - 0.5**hits` blended with the clipped relative similarity
`(cos - passage mean - floor) / span`, weight `w` on terms; a topic is assigned at
`threshold`, at most four per passage (the same formula as Tagger.topic_scores).
This grid-searches w, floor, span and threshold for dev macro-F1 and prints the best
settings, to be copied into policymine/tag.py and config.py by hand.

    python eval/tune_tags.py eval/topics.jsonl
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from policymine.config import Settings
from policymine.embed import embed
from policymine.evaluate import load_labelled, topic_scores


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    f1s = []
    for j in range(gold.shape[1]):
        g, p = gold[:, j], pred[:, j]
        if not g.any():
            continue
        tp = (g & p).sum()
        f1s.append(2 * tp / (g.sum() + p.sum()) if g.sum() + p.sum() else 0.0)
    return float(np.mean(f1s))


def predict(scores: np.ndarray, threshold: float, max_topics: int = 4) -> np.ndarray:
    pred = scores >= threshold
    order = np.argsort(-scores, axis=1)
    for i in range(len(scores)):
        pred[i, order[i, max_topics:]] = False
    return pred


def main() -> None:
    rows = load_labelled(sys.argv[1], "dev")
    tagger, _ = topic_scores(rows, Settings())
    texts = [r["text"] for r in rows]
    hits = np.array([[len(t) for t in tagger.matched_terms(x)] for x in texts], dtype=np.float32)
    sims = tagger.relative(tagger.similarities(embed(texts, tagger.embedder)))
    gold = np.array([[t in r["topics"] for t in tagger.topic_ids] for r in rows])
    best = []
    for w, floor, span in itertools.product(
        np.arange(0.3, 0.85, 0.05), (0.0, 0.05, 0.1), (0.05, 0.1, 0.2)
    ):
        term = 1.0 - np.power(0.5, hits)
        scores = w * term + (1 - w) * np.clip((sims - floor) / span, 0, 1)
        for threshold in np.arange(0.1, 0.61, 0.025):
            best.append(
                (
                    macro_f1(gold, predict(scores, threshold)),
                    round(w, 2),
                    floor,
                    span,
                    round(threshold, 3),
                )
            )
    best.sort(reverse=True)
    print("dev macro-F1  term_weight  sim_floor  sim_span  threshold")
    for f1, w, floor, span, threshold in best[:10]:
        print(f"{f1:.3f}         {w:<12} {floor:<10} {span:<9} {threshold}")


if __name__ == "__main__":
    main()
