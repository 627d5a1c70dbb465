"""Convert ClimRetrieve into a folder of passage files and a qrels TSV for the search eval.

ClimRetrieve (Schimanski et al., "ClimRetrieve: A Benchmarking Dataset for Information Retrieval
from Corporate Climate Disclosures") has expert relevance judgements for 26 questions over 32
corporate climate reports. The report PDFs are not available, so retrieval is evaluated
"sentence in context": every passage becomes a one-page .txt file and the task is to find, across
all reports, the passages that answer a question.

    python eval/climretrieve.py --data ../shared/datasets/climretrieve --out /tmp/climretrieve

Writes
    OUT/docs/<report-slug>__NNNN.txt  one unique passage per file, a single plain paragraph
    OUT/qrels.tsv                     qid, query, doc, page, grade (page is always 1)

Passages
    - ClimRetrieve_base.xlsx: the Context of each row (the relevant sentence with one sentence
      either side); where Context is empty the Relevant sentence stands in. Rows with neither
      (or "N/a") are the annotators' "nothing found" rows and are skipped.
    - report_level_data_final_test.csv: 192 paragraphs of the Microsoft 2022 report, each judged
      for six questions (1,152 rows). Most are labelled 0, so they give the judged hard negatives.
    - Files keep the upstream report names. The base file calls the Microsoft report both
      "2022 Microsoft ..." and "Microsoft 2022 ...", so there are two slugs for that report.
    - Identical texts (after collapsing whitespace) are written once. Files are numbered per report
      in page order, then by text; report-level paragraphs (no page) follow in document order.

Grades (qid = cr01..cr26: the 16 core questions first, then the others, each group by text)
    - Source Relevance Score 3 or label 3 -> 2; 1-2 -> 1; 0 -> 0 (judged not relevant).
    - A base row with no score (6 rows that do have text) -> 1: the annotator chose it as a relevant
      source but did not grade it.
    - Unsure Flag (51 rows): kept, at grade 1 at most. The annotator still chose the text as
      a source. Dropping the row would make the text a non-relevant passage, so a system would
      lose points for finding borderline evidence. Keeping the full grade would weigh doubtful
      evidence as much as a clear answer. The one unsure row scored 0 stays at 0.
    - A passage judged more than once for the same question gets its highest grade.
    - A report-level paragraph labelled 0 that contains, word for word, a Relevant sentence the
      experts gave for the same report and question takes that sentence's grade. The upstream
      labels come from a 0.9 fuzzy-similarity match, and a paragraph that quotes an answer is
      not a negative. The summary counts these cases.
    - A passage that is relevant to one question is not judged for the others. The search eval
      treats it as not relevant, which is what cross-report retrieval needs.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

BASE_FILE = "ClimRetrieve_base.xlsx"
REPORT_LEVEL_FILE = "report_level_data_final_test.csv"
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
NO_PAGE = 10**9  # sorts report-level paragraphs (no page number) after the base contexts
FILE_RE = re.compile(r"__\d{4}\.txt$")  # files this script writes (and may replace)


class DataError(Exception):
    """The ClimRetrieve data could not be read; the message says which file and why."""


@dataclass
class Passage:
    """One unique passage text and where it first appeared."""

    report: str
    text: str
    page: int
    order: int  # position in the report-level CSV, 0 for base contexts
    name: str = ""


@dataclass
class Judgements:
    """Passages and graded judgements, keyed by passage text."""

    passages: dict[str, Passage] = field(default_factory=dict)
    grades: dict[tuple[str, str], int] = field(default_factory=dict)  # (question, text) -> grade
    core: dict[str, bool] = field(default_factory=dict)  # question -> a core-16 question
    skipped: Counter[str] = field(default_factory=Counter)
    upgraded: int = 0
    # rows flagged unsure, by the grade they get; key -1 counts those lowered from 2
    unsure: Counter[int] = field(default_factory=Counter)

    def add(self, report: str, question: str, text: str, grade: int, page: int, order: int) -> None:
        """Record a passage (once) and the highest grade it gets for `question`."""
        if text not in self.passages:
            self.passages[text] = Passage(report, text, page, order)
        else:
            p = self.passages[text]
            if (page, order) < (p.page, p.order) and p.report == report:
                p.page, p.order = page, order
        key = (question, text)
        self.grades[key] = max(grade, self.grades.get(key, -1))


def squash(text: str | None) -> str:
    """Text with all runs of whitespace collapsed to one space."""
    return " ".join((text or "").split())


def slug(name: str) -> str:
    """'AT&T 2022 Sustainability Summary.pdf' -> 'at-t-2022-sustainability-summary'."""
    stem = re.sub(r"\.pdf\s*$", "", name.strip(), flags=re.IGNORECASE)
    ascii_ = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-") or "report"


def read_xlsx(path: Path) -> list[dict[str, str]]:
    """Rows of the first sheet of an .xlsx file as dicts keyed by the header row (stdlib only)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            strings: list[str] = []
            if "xl/sharedStrings.xml" in names:
                root = ET.fromstring(z.read("xl/sharedStrings.xml"))
                strings = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in root]
            sheet = _first_sheet(z)
            data = ET.fromstring(z.read(sheet)).find("m:sheetData", NS)
    except (OSError, zipfile.BadZipFile, KeyError, ET.ParseError) as exc:
        raise DataError(f"{path}: not a readable .xlsx file ({exc})") from None
    if data is None:
        raise DataError(f"{path}: the first sheet has no data")
    table: list[dict[str, str]] = []
    for row in data.findall("m:row", NS):
        cells = {}
        for c in row.findall("m:c", NS):
            col = re.match(r"[A-Z]+", c.get("r", "")).group()  # type: ignore[union-attr]
            v = c.find("m:v", NS)
            if c.get("t") == "s" and v is not None:
                cells[col] = strings[int(v.text or 0)]
            elif c.get("t") == "inlineStr":
                cells[col] = "".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t"))
            elif v is not None and v.text is not None:
                cells[col] = v.text
        table.append(cells)
    if not table:
        raise DataError(f"{path}: the first sheet is empty")
    header = {col: name.strip() for col, name in table[0].items()}
    return [{header[c]: v for c, v in r.items() if c in header} for r in table[1:]]


def _first_sheet(z: zipfile.ZipFile) -> str:
    """The zip path of the workbook's first sheet."""
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    sheet = wb.find("m:sheets/m:sheet", NS)
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    rid = sheet.get(f"{{{REL_NS}}}id") if sheet is not None else None
    for rel in rels.findall(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return "xl/worksheets/sheet1.xml"


def grade_of(score: str | None, unsure: bool) -> int:
    """Map a Source Relevance Score (or report-level label) 0-3 to a qrels grade 0-2."""
    s = squash(score)
    grade = 1 if not s else {"0": 0, "1": 1, "2": 1, "3": 2}.get(s.split(".")[0])
    if grade is None:
        raise DataError(f"unexpected relevance score {score!r} (expected 0-3)")
    return min(grade, 1) if unsure else grade


def load(data: Path) -> Judgements:
    """Read both ClimRetrieve files into passages and graded judgements."""
    base_path, csv_path = data / BASE_FILE, data / REPORT_LEVEL_FILE
    for p in (base_path, csv_path):
        if not p.is_file():
            raise DataError(f"{p} not found: --data must be the ClimRetrieve folder")
    j = Judgements()
    relevant: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for row in read_xlsx(base_path):
        if not any(squash(v) for v in row.values()):
            continue  # an empty spreadsheet row
        report, question = squash(row.get("Document")), squash(row.get("Question"))
        if not report or not question:
            j.skipped["base row without document or question"] += 1
            continue
        j.core[question] = j.core.get(question, False) or squash(row.get("Core 16 Question")) == "1"
        text = squash(row.get("Context")) or squash(row.get("Relevant"))
        if text.lower() in ("", "n/a", "na"):
            j.skipped["base row without text (nothing found)"] += 1
            continue
        unsure = bool(squash(row.get("Unsure Flag")))
        grade = grade_of(row.get("Source Relevance Score"), unsure)
        if unsure:
            j.unsure[grade] += 1
            j.unsure[-1] += grade_of(row.get("Source Relevance Score"), False) > grade
        page = re.match(r"\d+", squash(row.get("Page")))  # one row says "Yes": order it last
        j.add(report, question, text, grade, int(page.group()) if page else NO_PAGE - 1, 0)
        sentence = squash(row.get("Relevant"))
        if sentence and grade > 0:
            relevant[(report, question)].append((sentence, grade))
    try:
        with open(csv_path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: not readable ({exc})") from None
    for i, row in enumerate(rows):
        try:
            report, question = squash(row["report"]), squash(row["question"])
            text, label = squash(row["paragraph"]), row["relevance"]
        except KeyError as exc:
            raise DataError(f"{csv_path}: no column {exc}") from None
        if not text:
            j.skipped["report-level row without paragraph"] += 1
            continue
        grade = grade_of(label, False)
        if grade == 0:
            quoted = [g for s, g in relevant.get((report, question), []) if s in text]
            if quoted:
                grade = max(quoted)
                j.upgraded += 1
        j.core.setdefault(question, False)
        j.add(report, question, text, grade, NO_PAGE, i + 1)
    if not j.grades:
        raise DataError(f"{data}: no judgements found")
    return j


def name_files(j: Judgements) -> None:
    """Give every passage its file name: report slug and running number, in page order."""
    by_report: dict[str, list[Passage]] = defaultdict(list)
    for p in j.passages.values():
        by_report[p.report].append(p)
    owners: dict[str, str] = {}
    for report in sorted(by_report):
        s = slug(report)
        if owners.setdefault(s, report) != report:
            raise DataError(f"reports {owners[s]!r} and {report!r} give the same file name {s!r}")
        for n, p in enumerate(sorted(by_report[report], key=lambda p: (p.page, p.order, p.text))):
            p.name = f"{s}__{n + 1:04d}.txt"


def question_ids(j: Judgements) -> dict[str, str]:
    """cr01.. for the core questions by text, then the others by text."""
    ordered = sorted(j.core, key=lambda q: (not j.core[q], q))
    return {q: f"cr{i + 1:02d}" for i, q in enumerate(ordered)}


def write(j: Judgements, out: Path) -> dict[str, str]:
    """Write OUT/docs/*.txt and OUT/qrels.tsv; returns the question ids."""
    docs = out / "docs"
    try:
        docs.mkdir(parents=True, exist_ok=True)
        for old in docs.glob("*.txt"):
            if FILE_RE.search(old.name):
                old.unlink()  # a file of an earlier run
        for p in j.passages.values():
            # a leading "#" would make the paragraph a heading, which is not passage text
            text = p.text.lstrip("#").lstrip() if p.text.startswith("#") else p.text
            (docs / p.name).write_text(text + "\n", encoding="utf-8")
        qids = question_ids(j)
        rows = sorted((qids[q], q, j.passages[t].name, 1, g) for (q, t), g in j.grades.items())
        lines = ["qid\tquery\tdoc\tpage\tgrade"] + ["\t".join(map(str, r)) for r in rows]
        # plain tab-separated lines: the queries hold no tabs or newlines (squashed), nothing quoted
        (out / "qrels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return qids


def summary(j: Judgements, qids: dict[str, str], out: Path) -> str:
    """A short human-readable account of what was written."""
    reports = Counter(p.report for p in j.passages.values())
    from_csv = sum(1 for p in j.passages.values() if p.order > 0)
    words = sorted(len(p.text.split()) for p in j.passages.values())
    grades = Counter(j.grades.values())
    per_q = Counter(qids[q] for (q, _), g in j.grades.items() if g > 0)
    counts = sorted(per_q.values())
    unjudged = sorted(set(qids.values()) - per_q.keys())
    tiny = sorted(p.name for p in j.passages.values() if len(p.text.split()) < 3)
    lines = [
        (
            f"wrote {len(j.passages)} passages to {out / 'docs'} ({len(j.passages) - from_csv}"
            f" base contexts, {from_csv} report-level paragraphs) from {len(reports)} reports"
        ),
        (
            f"passage words: min {words[0]}, median {statistics.median(words):g},"
            f" max {words[-1]}; {sum(w < 40 for w in words)} under 40,"
            f" {sum(w > 250 for w in words)} over 250"
        ),
        (
            f"{len(qids)} questions ({sum(j.core.values())} core) -> {out / 'qrels.tsv'}:"
            f" {len(j.grades)} judged pairs, grade 2: {grades[2]}, grade 1: {grades[1]},"
            f" grade 0: {grades[0]}"
        ),
        (
            f"relevant pairs per question: min {counts[0]}, median"
            f" {statistics.median(counts):g}, max {counts[-1]} over {len(counts)} questions"
        )
        + (f"; none for {', '.join(unjudged)} (only 'nothing found' rows)" if unjudged else ""),
    ]
    if tiny:
        lines.append(f"under 3 words (policymine indexes no passage for these): {', '.join(tiny)}")
    if j.unsure:
        lines.append(
            f"{j.unsure[0] + j.unsure[1]} rows flagged unsure kept at grade 1 at most"
            f" (grade 1: {j.unsure[1]}, {j.unsure[-1]} of them lowered from 2;"
            f" grade 0: {j.unsure[0]})"
        )
    if j.upgraded:
        lines.append(f"{j.upgraded} report-level paragraphs labelled 0 quote an expert answer")
    lines += [f"skipped {n}: {why}" for why, n in sorted(j.skipped.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: convert, write, print a summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the ClimRetrieve folder")
    ap.add_argument("--out", type=Path, required=True, help="output folder (docs/ and qrels.tsv)")
    args = ap.parse_args(argv)
    try:
        if not args.data.is_dir():
            raise DataError(f"{args.data}: not a folder; --data must be the ClimRetrieve folder")
        j = load(args.data)
        name_files(j)
        qids = write(j, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(j, qids, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
