"""A seeded random sample of practice records from an index, as a sheet to judge by reading
(issue 16: "the title names the measure", at least 27 of 30).

    PYTHONPATH=src python eval/sample_records.py --index-dir INDEX -n 30 --out /tmp/records.md

Each record shows its title, instrument, status, place, citation and quote; a reader writes,
per number, `yes` when the title names the measure the quote describes (what is done, not a
section heading, a fragment or a figure) and `no` otherwise. Records are drawn uniformly from
all stored records (`--seed`), not from the best-scored ones.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from policymine.config import Settings
from policymine.practices import list_practices

SEED = 16


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    records = list_practices(Settings(index_dir=args.index_dir))
    chosen = random.Random(args.seed).sample(records, min(args.n, len(records)))
    lines = [f"# {len(chosen)} of {len(records)} practice records, seed {args.seed}\n"]
    for n, p in enumerate(chosen, start=1):
        lines.append(
            f"[{n}] title: {p.title}\n"
            f"    {p.instrument} · {p.status} · {p.hit.city or '-'}, {p.hit.country or '-'}"
            f" · score {p.score:.2f}\n"
            f"    {p.hit.doc}, p. {p.quote_page or p.hit.page}\n"
            f"    quote: {p.quote}\n"
        )
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
