"""Merge the readers' labels into eval/passages.jsonl and report the second reader's agreement.

    python eval/merge_labels.py

Inputs (eval/labels/): pool.jsonl (the passages, their document split and how they were
drawn: eval/build_label_pool.py), labels-N.jsonl (reader N's labels of shard-N.jsonl) and,
where present, check-N.jsonl (a second reader's blind labels of a seeded sample of shard N).
Rows with invalid labels are reported and left out. The agreement of each check with the
first reader is written to eval/labels/agreement.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "eval" / "labels"
INSTRUMENTS = {
    "regulation",
    "funding_incentive",
    "programme_service",
    "infrastructure_investment",
    "partnership",
    "participation_process",
    "information_education",
    "target_plan",
}
STATUSES = {"planned", "adopted", "implemented"}
# The default taxonomy's topic ids, in its order.
TOPICS = list(
    tomllib.loads((ROOT / "src/policymine/data/taxonomy.toml").read_text("utf-8"))["topics"]
)


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def problem(label: dict) -> str | None:
    """Why a label row is invalid, or None."""
    if not isinstance(label.get("is_practice"), bool):
        return "is_practice is not true/false"
    if label["is_practice"]:
        if label.get("instrument") not in INSTRUMENTS:
            return f"unknown instrument {label.get('instrument')!r}"
        if label.get("status") not in STATUSES:
            return f"unknown status {label.get('status')!r}"
    if not set(label.get("topics") or []) <= set(TOPICS):
        return f"unknown topics {sorted(set(label['topics']) - set(TOPICS))}"
    return None


def clean(label: dict) -> dict:
    """The label fields, normalised: no instrument or status on a non-practice."""
    practice = label["is_practice"]
    return {
        "is_practice": practice,
        "instrument": label["instrument"] if practice else None,
        "status": label["status"] if practice else None,
        "topics": sorted(set(label.get("topics") or []), key=TOPICS.index),
    }


def kappa(a: list, b: list) -> float:
    """Cohen's kappa of two readers' labels."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def agreement(first: dict[str, dict], second: dict[str, dict]) -> dict:
    """Agreement of a second reader with the first on the rows both labelled."""
    ids = sorted(set(first) & set(second))
    both = [i for i in ids if first[i]["is_practice"] and second[i]["is_practice"]]
    f1s = []
    for t in TOPICS:
        x = [t in first[i]["topics"] for i in ids]
        y = [t in second[i]["topics"] for i in ids]
        tp = sum(p and q for p, q in zip(x, y))
        if sum(x) + sum(y):
            f1s.append(2 * tp / (sum(x) + sum(y)))
    return {
        "rows": len(ids),
        "practice_agreement": sum(first[i]["is_practice"] == second[i]["is_practice"] for i in ids)
        / max(1, len(ids)),
        "practice_kappa": kappa(
            [first[i]["is_practice"] for i in ids], [second[i]["is_practice"] for i in ids]
        ),
        "both_practice": len(both),
        "instrument_agreement": sum(first[i]["instrument"] == second[i]["instrument"] for i in both)
        / max(1, len(both)),
        "status_agreement": sum(first[i]["status"] == second[i]["status"] for i in both)
        / max(1, len(both)),
        "topic_macro_f1": sum(f1s) / max(1, len(f1s)),
    }


def main() -> None:
    pool = {r["id"]: r for r in read_jsonl(LABELS / "pool.jsonl")}
    merged, skipped = [], []
    checks = []
    for path in sorted(LABELS.glob("labels-*.jsonl")):
        reader = path.stem.split("-")[1]
        first = {}
        for label in read_jsonl(path):
            why = problem(label) if label.get("id") in pool else "unknown id"
            if why:
                skipped.append(f"{path.name} {label.get('id')}: {why}")
                continue
            first[label["id"]] = clean(label)
        for row_id, label in first.items():
            merged.append({**pool[row_id], **label, "reader": f"reader-{reader}"})
        check = LABELS / f"check-{reader}.jsonl"
        if check.exists():
            second = {r["id"]: clean(r) for r in read_jsonl(check) if not problem(r)}
            checks.append((reader, agreement(first, second)))
    merged.sort(key=lambda r: r["id"])
    keys = ["id", "doc", "page", "lang", "split", "sampling", "reader", "text"]
    keys += ["is_practice", "instrument", "status", "topics"]
    with open(ROOT / "eval" / "passages.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps({k: row[k] for k in keys}, ensure_ascii=False) + "\n" for row in merged
        )
    by = Counter((r["split"], r["lang"]) for r in merged)
    practices = Counter((r["split"], r["is_practice"]) for r in merged)
    print(f"{len(merged)} labelled rows -> eval/passages.jsonl: {dict(sorted(by.items()))}")
    print(f"practices by split: {dict(sorted(practices.items()))}")
    for line in skipped:
        print("left out:", line)
    if checks:
        lines = [
            "# Second-reader agreement",
            "",
            (
                "A second reader labelled a seeded sample of each reader's rows blind (without"
                " seeing the first labels), from eval/labels/RULES.md alone."
                " `python eval/merge_labels.py` writes this table."
            ),
            "",
            (
                "| first reader | rows | practice agreement | practice kappa | rows both practice |"
                " instrument agreement | status agreement | topic macro-F1 between readers |"
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        for reader, a in checks:
            lines.append(
                f"| reader-{reader} | {a['rows']} | {a['practice_agreement']:.2f} |"
                f" {a['practice_kappa']:.2f} | {a['both_practice']} |"
                f" {a['instrument_agreement']:.2f} | {a['status_agreement']:.2f} |"
                f" {a['topic_macro_f1']:.2f} |"
            )
        (LABELS / "agreement.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines[-len(checks) :]))


if __name__ == "__main__":
    main()
