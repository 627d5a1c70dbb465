"""Evaluation against labelled data: topic tagging (per-topic precision, recall, F1).

`eval tags FILE.jsonl` reads rows `{"text", "topics": [...], "split"?}` (eval/topics.jsonl
is the team's set), scores them with the same Tagger that ingest uses, and compares the
assigned topics with the gold ones. Rows of other splits are left out, so the held-out
`test` split is what a report shows unless asked otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Settings
from .embed import embed, get_embedder
from .errors import PolicymineError
from .tag import Tagger, load_taxonomy


@dataclass
class TopicScore:
    """Precision, recall and F1 of one topic."""

    topic: str
    support: int  # gold positives
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class TagReport:
    """The outcome of a tagging evaluation."""

    rows: int
    split: str
    threshold: float
    topics: list[TopicScore] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the topics that have gold positives."""
        scored = [t.f1 for t in self.topics if t.support]
        return sum(scored) / len(scored) if scored else 0.0

    @property
    def micro_f1(self) -> float:
        correct = sum(t.correct for t in self.topics)
        predicted = sum(t.predicted for t in self.topics)
        support = sum(t.support for t in self.topics)
        return 2 * correct / (predicted + support) if predicted + support else 0.0

    def to_dict(self) -> dict:
        return {
            "rows": self.rows, "split": self.split, "threshold": self.threshold,
            "macro_f1": round(self.macro_f1, 3), "micro_f1": round(self.micro_f1, 3),
            "topics": {
                t.topic: {"precision": round(t.precision, 3), "recall": round(t.recall, 3), "f1": round(t.f1, 3), "support": t.support}
                for t in self.topics
            },
        }


def load_labelled(path: Path, split: str = "test") -> list[dict]:
    """Labelled rows of one split ("all" for every row); a malformed line is an error naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PolicymineError(f"{path}: cannot read labelled data ({exc.strerror})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PolicymineError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("topics"), list):
            raise PolicymineError(f"{path}:{number}: a row needs \"text\" (string) and \"topics\" (list)")
        if split == "all" or row.get("split", "test") == split:
            rows.append(row)
    if not rows:
        raise PolicymineError(f"{path}: no rows in split {split!r}")
    return rows


def topic_scores(rows: list[dict], settings: Settings) -> tuple[Tagger, np.ndarray]:
    """The tagger and its (rows x topics) score matrix, as ingest would compute it."""
    tagger = Tagger(get_embedder(settings.model), settings, load_taxonomy(settings.taxonomy))
    texts = [r["text"] for r in rows]
    return tagger, tagger.topic_scores(texts, embed(texts, tagger.embedder, settings.batch_size))


def score_tags(rows: list[dict], tagger: Tagger, scores: np.ndarray, split: str) -> TagReport:
    """Compare the topics the tagger assigns with the gold topics."""
    unknown = {t for r in rows for t in r["topics"]} - set(tagger.topic_ids)
    if unknown:
        raise PolicymineError(f"labelled topics not in the taxonomy: {', '.join(sorted(unknown))}")
    predicted = [set(tagger.labels(row)) for row in scores]
    report = TagReport(rows=len(rows), split=split, threshold=tagger.settings.topic_threshold)
    for topic in tagger.topic_ids:
        gold = [topic in r["topics"] for r in rows]
        pred = [topic in p for p in predicted]
        report.topics.append(TopicScore(
            topic, support=sum(gold), predicted=sum(pred), correct=sum(g and p for g, p in zip(gold, pred))
        ))
    return report


def evaluate_tags(path: Path, settings: Settings, split: str = "test") -> TagReport:
    """Per-topic precision, recall and F1 of the tagger on a labelled file."""
    rows = load_labelled(path, split)
    tagger, scores = topic_scores(rows, settings)
    return score_tags(rows, tagger, scores, split)
