import csv
import io
import json
import re
import traceback

import pytest
from conftest import CORPUS, make_bad_inputs
from typer.testing import CliRunner

from policymine.cli import app

runner = CliRunner()
HIT_KEYS = {
    "rank",
    "passage_id",
    "doc",
    "title",
    "page",
    "text",
    "score",
    "topics",
    "city",
    "country",
    "lang",
}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def ix(tmp_path_factory):
    """A small index built through the CLI (fake model)."""
    index_dir = tmp_path_factory.mktemp("cli") / "ix"
    result = run(
        "ingest",
        CORPUS / "01-berlin-solar.pdf",
        CORPUS / "06-boston-participatory-budgeting.pdf",
        CORPUS / "07-denver-climate-fund.pdf",
        "--index-dir",
        index_dir,
        "--model",
        "fake",
        "--json",
    )
    assert result.exit_code == 0, result.output
    return index_dir


@pytest.mark.parametrize(
    "command",
    [
        "ingest",
        "search",
        "similar",
        "serve",
        "reembed",
        "tag",
        "digest",
        "practices",
        "info",
        "extract",
    ],
)
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert re.search(r"Examples?: policymine " + command, " ".join(result.output.split()))


def test_ingest_json_summary_and_skip(ix):
    result = run(
        "ingest", CORPUS / "01-berlin-solar.pdf", "--index-dir", ix, "--model", "fake", "--json"
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["summary"]["skipped"] == 1 and data["files"][0]["status"] == "skipped"


def test_ingest_human_summary_on_stderr(tmp_path):
    result = run(
        "ingest",
        CORPUS / "05-pittsburgh-mobility.pdf",
        "--index-dir",
        tmp_path / "ix",
        "--model",
        "fake",
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert "1 added, 0 updated, 0 skipped, 0 failed" in result.stderr


def test_search_json_shape(ix):
    result = run(
        "search", "solar panels on roofs", "--index-dir", ix, "--model", "fake", "-k", "3", "--json"
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 3
    for hit in hits:
        assert (
            HIT_KEYS <= set(hit)
            and isinstance(hit["topics"], list)
            and isinstance(hit["page"], int)
        )


def test_search_human_output_and_filters(ix):
    result = run(
        "search", "budget", "--index-dir", ix, "--model", "fake", "--city", "Boston", "-k", "2"
    )
    assert result.exit_code == 0
    assert (
        "06-boston-participatory-budgeting.pdf p. " in result.stdout
        and "Boston, US" in result.stdout
    )


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--city", "Berlino", "Berlin, DE"),  # GeoNames' Italian name
        ("--city", "BERLIN", "Berlin, DE"),
        ("--country", "Deutschland", ", DE"),
        ("--country", "Germany", ", DE"),
        ("--country", "de", ", DE"),
    ],
)
def test_city_and_country_filters_take_any_spelling(ix, option, value, expected):
    result = run(
        "search", "housing", "--index-dir", ix, "--model", "fake", option, value, "-k", "3"
    )
    assert result.exit_code == 0, result.output
    places = re.findall(r"p\. [\d-]+ · ([^·]+) ·", result.stdout)
    assert places and all(expected in p for p in places), result.stdout


def test_search_explain_prints_why(ix):
    result = run(
        "search", "solar roof", "--index-dir", ix, "--model", "fake", "-k", "2", "--explain"
    )
    assert result.exit_code == 0, result.output
    assert re.search(
        r"why: similarity [-0-9.]+ .*bm25 [0-9.]+ = (solar|roof) [0-9.]+.* rrf [0-9.]+ → #1",
        result.stdout,
    )
    hits = json.loads(
        run(
            "search",
            "solar",
            "--index-dir",
            ix,
            "--model",
            "fake",
            "--explain",
            "--json",
            "--mode",
            "keyword",
        ).stdout
    )
    assert (
        hits[0]["explain"]["keyword"]["terms"]["solar"] > 0
        and hits[0]["explain"]["fused"]["method"] == "bm25"
    )


def test_eval_search_table_and_json(ix, tmp_path):
    qrels = tmp_path / "q.tsv"
    qrels.write_text(
        "qid\tquery\tdoc\tpage\tgrade\tsplit\n"
        "en01\tresidents vote on the budget\t06-boston-participatory-budgeting.pdf\t1\t2\ttest\n"
        "en01\tresidents vote on the budget\t01-berlin-solar.pdf\t1\t0\ttest\n"
        "xl01\tsolar panels on roofs\t01-berlin-solar.pdf\t1\t2\tdev\n",
        encoding="utf-8",
    )
    result = run("eval", "search", qrels, "--index-dir", ix, "--model", "fake")
    assert result.exit_code == 0, result.output
    for mode in ("dense", "keyword", "hybrid"):
        assert re.search(
            mode + r"[ │]+\d+[ │]+all[ │]+[01]\.\d{3}[ │]+[01]\.\d{3}[ │]+[01]\.\d{3}",
            result.stdout,
        )
    data = json.loads(
        run(
            "eval",
            "search",
            qrels,
            "--index-dir",
            ix,
            "--model",
            "fake",
            "--json",
            "--mode",
            "hybrid",
            "--split",
            "test",
        ).stdout
    )
    assert data["queries"] == 1 and data["rows"][0]["mrr"] == 1.0


def test_index_dir_from_environment(ix, monkeypatch):
    monkeypatch.setenv("POLICYMINE_INDEX_DIR", str(ix))
    result = run("info", "--json")
    assert json.loads(result.stdout)["documents"] == 3


def test_similar_json(ix):
    first = json.loads(
        run("search", "solar", "--index-dir", ix, "--model", "fake", "--json").stdout
    )[0]
    result = run("similar", first["passage_id"], "--index-dir", ix, "--model", "fake", "--json")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert hits and all(HIT_KEYS <= set(h) and h["doc"] != first["doc"] for h in hits)


def test_similar_text(ix):
    result = run(
        "similar",
        "--text",
        "residents vote on how to spend money",
        "--index-dir",
        ix,
        "--model",
        "fake",
        "--per-doc",
        "1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["doc"] == "06-boston-participatory-budgeting.pdf" and len(
        {h["doc"] for h in hits}
    ) == len(hits)


def test_info(ix):
    data = json.loads(run("info", "--index-dir", ix, "--json").stdout)
    assert (data["documents"], data["model"], data["dim"]) == (3, "fake", 64)
    assert data["taxonomy"] == "policymine-default@1" and set(data["cities"]) == {
        "Berlin",
        "Boston",
        "Denver",
    }
    assert "energy" in data["topics"]
    human = run("info", "--index-dir", ix)
    assert "3 documents" in human.stdout and "passages per topic" in human.stdout


def test_digest_markdown_html_json(ix, tmp_path):
    out = tmp_path / "energy.md"
    result = run("digest", "--topic", "energy", "--index-dir", ix, "--model", "fake", "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr and out.read_text().startswith("# Practice digest: energy")
    assert ", p. " in out.read_text()
    html = tmp_path / "q.html"
    assert (
        run(
            "digest",
            "--query",
            "residents vote",
            "--index-dir",
            ix,
            "--model",
            "fake",
            "--out",
            html,
        ).exit_code
        == 0
    )
    assert "<blockquote>" in html.read_text()
    data = json.loads(
        run("digest", "--topic", "energy", "--index-dir", ix, "--model", "fake", "--json").stdout
    )
    first = data["clusters"][0]["practices"][0]
    assert first["citation"].endswith(f"p. {first['page']}")


def test_practices_listing_and_eval(ix):
    data = json.loads(run("practices", "--index-dir", ix, "--topic", "energy", "--json").stdout)
    assert data and all(
        "energy" in p["topics"] and p["quote"] and p["evidence"]["city"] == "document metadata"
        for p in data
    )
    assert "p. " in run("practices", "--index-dir", ix, "-n", "2").stdout
    bad = run("practices", "--index-dir", ix, "--instrument", "subsidy")
    assert bad.exit_code == 1 and "unknown instrument" in bad.stderr
    every = json.loads(run("practices", "--index-dir", ix, "-n", "500", "--json").stdout)
    scores = sorted(p["score"] for p in every)
    middle = scores[len(scores) // 2]
    sure = json.loads(
        run("practices", "--index-dir", ix, "-n", "500", "--min-score", middle, "--json").stdout
    )
    assert sure and all(p["score"] >= middle - 0.0005 for p in sure)  # JSON rounds to 3 places
    assert len(sure) < len(every) or middle == scores[0]
    assert run("practices", "--index-dir", ix, "--min-score", "1.5").exit_code == 2
    report = json.loads(
        run(
            "eval", "practices", CORPUS.parent / "eval/practices.jsonl", "--split", "dev", "--json"
        ).stdout
    )
    assert report["rows"] == 125 and 0 < report["precision"] <= 1 and 0 < report["recall"] <= 1


def test_tag_jsonl_and_csv(tmp_path):
    result = run(
        "tag", CORPUS / "02-munich-sobon.pdf", CORPUS / "04-freiburg-vauban.pdf", "--model", "fake"
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["doc"] for r in records} == {"02-munich-sobon.pdf", "04-freiburg-vauban.pdf"}
    for r in records:
        assert {"doc", "title", "lang", "city", "country", "topics", "entities", "passages"} <= set(
            r
        )
        assert isinstance(r["topics"], dict)
        assert all({"text", "label", "count"} <= set(e) for e in r["entities"])
        assert all({"page", "text", "topics", "entities"} <= set(p) for p in r["passages"])
    out = tmp_path / "tags.csv"
    assert (
        run(
            "tag",
            CORPUS / "02-munich-sobon.pdf",
            "--model",
            "fake",
            "--format",
            "csv",
            "--out",
            out,
        ).exit_code
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["city"] == "Munich" and "housing:" in rows[0]["topics"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_tag_resume_finishes_an_interrupted_run(tmp_path, fmt):
    out = tmp_path / f"tags.{fmt}"
    files = [
        CORPUS / "02-munich-sobon.pdf",
        CORPUS / "04-freiburg-vauban.pdf",
        CORPUS / "05-pittsburgh-mobility.pdf",
    ]
    assert run("tag", files[0], "--model", "fake", "--format", fmt, "--out", out).exit_code == 0
    with open(out, "a", encoding="utf-8") as fh:  # a crash in the middle of writing the next line
        fh.write('{"doc": "04-freiburg' if fmt == "jsonl" else "04-freiburg-vauban.pdf,/x")
    result = run("tag", *files, "--model", "fake", "--format", fmt, "--out", out, "--resume")
    assert result.exit_code == 0, result.output
    if fmt == "jsonl":
        docs = [json.loads(line)["doc"] for line in out.read_text().splitlines()]
    else:
        docs = [row["doc"] for row in csv.DictReader(io.StringIO(out.read_text()))]
    assert sorted(docs) == sorted(f.name for f in files)  # each once, the cut line gone
    assert "1 documents were already there" in result.stderr


def test_tag_explain_shows_terms_and_similarity():
    result = run("tag", CORPUS / "01-berlin-solar.pdf", "--model", "fake", "--explain")
    passage = next(p for p in json.loads(result.stdout)["passages"] if "energy" in p["topics"])
    why = passage["explain"]["energy"]
    assert {"score", "terms", "similarity", "above_mean"} <= set(why) and why["terms"]


def test_extract_command():
    result = run("extract", CORPUS / "01-berlin-solar.pdf")
    assert (
        result.exit_code == 0
        and "--- page 2 · quality 1.00" in result.stdout
        and "Berlin has more than" in result.stdout
    )
    assert "=== passages" in result.stdout


def test_extract_json_shape():
    result = run("extract", CORPUS / "01-berlin-solar.pdf", "--format", "json")
    data = json.loads(result.stdout)
    assert {"doc", "title", "lang", "pages", "passages"} <= set(data)
    assert data["doc"] == "01-berlin-solar.pdf" and data["lang"] == "en"
    assert {"page", "label", "text", "quality"} <= set(data["pages"][0])
    assert {"id", "page", "page_end", "section", "text"} <= set(data["passages"][0])
    for p in data["passages"]:  # every passage can be found on its cited page
        assert (
            data["pages"][p["page"] - 1]["text"][p["char_start"] :].split()[:3]
            == p["text"].split()[:3]
        )


def test_bad_inputs_one_line_each_and_exit_1(tmp_path):
    bad = make_bad_inputs(tmp_path / "bad")
    index_dir = tmp_path / "ix"
    result = run(
        "ingest",
        CORPUS / "05-pittsburgh-mobility.pdf",
        *(p for p, _ in bad.values()),
        "--index-dir",
        index_dir,
        "--model",
        "fake",
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad)
    for path, reason in bad.values():
        assert any(str(path) in line and reason in line for line in errors)
    assert "Traceback" not in result.output
    assert "1 added" in result.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["search", "solar", "--index-dir", "{tmp}/none"],
            "no index in {tmp}/none: create one with `policymine ingest PATH",
        ),
        (["info", "--index-dir", "{tmp}/none"], "no index in"),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "minilm"],
            "was built with model fake",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "nope"],
            "unknown embedding model 'nope'",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--topic", "solar"],
            "unknown topic 'solar'",
        ),
        (
            ["similar", "99999", "--index-dir", "{ix}", "--model", "fake"],
            "no passage with id 99999",
        ),
        (["similar", "--index-dir", "{ix}", "--model", "fake"], "give a passage id or --text"),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--mode", "fuzzy"],
            "unknown search mode 'fuzzy'",
        ),
        (
            ["eval", "search", "{tmp}/none.tsv", "--index-dir", "{ix}", "--model", "fake"],
            "none.tsv: qrels file not found",
        ),
        (
            ["eval", "search", "{corpus}/../README.md", "--index-dir", "{ix}", "--model", "fake"],
            "expected a header line",
        ),
        (["digest", "--index-dir", "{ix}", "--model", "fake"], "a digest needs --topic or --query"),
        (
            [
                "digest",
                "--topic",
                "energy",
                "--out",
                "{tmp}/d.pdf",
                "--index-dir",
                "{ix}",
                "--model",
                "fake",
            ],
            "must end in .md or .html",
        ),
        (["tag", "{tmp}/missing.pdf"], "missing.pdf: no such file"),
        (["tag", "{corpus}/01-berlin-solar.pdf", "--format", "xml"], "unknown --format 'xml'"),
        (["tag", "{corpus}/01-berlin-solar.pdf", "--resume"], "--resume needs --out"),
        (["extract", "{tmp}/missing.pdf"], "missing.pdf: no such file"),
        (["extract", "{corpus}/01-berlin-solar.pdf", "--format", "xml"], "unknown --format 'xml'"),
        (
            [
                "ingest",
                "{corpus}",
                "--index-dir",
                "{tmp}/t",
                "--taxonomy",
                "{tmp}/no.toml",
                "--model",
                "fake",
            ],
            "cannot read taxonomy",
        ),
        (
            ["ingest", "{corpus}", "--index-dir", "{tmp}/t", "--executor", "spark"],
            "executor must be one of local, ray",
        ),
        (
            ["tag", "{corpus}", "--ray-address", "auto"],
            "ray_address is set but the executor is local",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--city", "Bostn"],
            "no document in this index has --city 'Bostn'; closest known: Boston",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--country", "Germny"],
            "no document in this index has --country 'Germny'; closest known: DE",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--country", "France"],
            "no document in this index has --country 'France' (FR); known: DE, US",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--lang", "fr"],
            "no document in this index has --lang 'fr'; known: en",
        ),
        (
            ["search", "solar", "--index-dir", "{ix}", "--model", "fake", "--doc", "berlinn-solar"],
            "no document in this index has --doc 'berlinn-solar'; closest known: 01-berlin-solar.pdf",
        ),
    ],
)
def test_errors_are_one_clean_line(ix, tmp_path, args, expected):
    fill = {"tmp": tmp_path, "ix": ix, "corpus": CORPUS}
    result = run(*(a.format(**fill) for a in args))
    assert result.exit_code == 1
    assert expected.format(**fill) in result.stderr
    assert "Traceback" not in result.output
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


def test_ocr_without_tesseract_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr("policymine.ocr.available", lambda: False)
    result = run("extract", CORPUS / "01-berlin-solar.pdf", "--ocr")
    assert result.exit_code == 1
    assert (
        "--ocr needs the Tesseract program" in result.stderr
        and "apt install tesseract-ocr" in result.stderr
    )


def test_eval_places_against_a_truth_file(tmp_path, fake_index):
    truth = tmp_path / "places.tsv"
    truth.write_text(
        "doc\tcity\tcountry\n02-munich-sobon.pdf\tMünchen\tDE\n05-pittsburgh-mobility.pdf\tBoston\tUS\n"
    )
    result = run("eval", "places", truth, "--index-dir", fake_index, "--json")
    data = json.loads(result.stdout)
    assert data["documents"] == 2 and data["city_correct"] == 1 and data["country_correct"] == 2
    assert (
        data["wrong"][0]["doc"] == "05-pittsburgh-mobility.pdf"
        and data["wrong"][0]["found_city"] == "Pittsburgh"
    )


def test_eval_tags_reports_per_topic_scores(tmp_path):
    labelled = tmp_path / "topics.jsonl"
    rows = [
        {
            "text": "Grants for heat pumps and rooftop solar on homes.",
            "topics": ["energy"],
            "split": "test",
        },
        {
            "text": "New bus lanes and protected bike lanes downtown.",
            "topics": ["mobility"],
            "split": "test",
        },
        {"text": "A tuning row.", "topics": ["energy"], "split": "dev"},
    ]
    labelled.write_text("\n".join(json.dumps(r) for r in rows))
    data = json.loads(run("eval", "tags", labelled, "--model", "fake", "--json").stdout)
    assert data["rows"] == 2 and data["split"] == "test"
    assert data["topics"]["energy"]["recall"] == 1.0 and data["topics"]["mobility"]["recall"] == 1.0
    assert 0 < data["macro_f1"] <= 1


def test_reembed_switches_the_model_and_keeps_tags(ix, tmp_path, monkeypatch):
    import shutil

    from policymine.embed import MODELS, ModelSpec

    class Other:
        name, dim = "other", 8

        def embed_batch(self, texts):
            import numpy as np

            v = np.ones((len(texts), 8), dtype=np.float32)
            v[:, 0] += [len(t) for t in texts]
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    monkeypatch.setitem(MODELS, "other", ModelSpec(Other.name, Other.dim, Other))
    copy = tmp_path / "copy"
    shutil.copytree(ix, copy)
    before = json.loads(run("info", "--index-dir", copy, "--json").stdout)
    result = run("reembed", "--model", "other", "--index-dir", copy)
    assert result.exit_code == 0, result.output + "".join(
        traceback.format_exception(*result.exc_info) if result.exc_info else []
    )
    assert f"{before['passages']} passages embedded with other" in result.stderr
    after = json.loads(run("info", "--index-dir", copy, "--json").stdout)
    assert (after["model"], after["dim"], after["topics"]) == ("other", 8, before["topics"])
    assert run("search", "solar", "--index-dir", copy, "--model", "other", "--json").exit_code == 0
    assert (
        "was built with model other"
        in run("search", "solar", "--index-dir", copy, "--model", "fake").stderr
    )


def test_malformed_files_at_scale_get_one_line_each_and_nothing_indexed_is_lost(tmp_path):
    from conftest import make_malformed_pdfs
    from test_crash import assert_consistent, contents

    ix = tmp_path / "ix"
    assert (
        run(
            "ingest",
            CORPUS / "07-denver-climate-fund.pdf",
            "--index-dir",
            ix,
            "--model",
            "fake",
            "-q",
        ).exit_code
        == 0
    )
    before = contents(ix)
    malformed = make_malformed_pdfs(tmp_path / "malformed")
    bad = [path for path, _ in make_bad_inputs(tmp_path / "bad").values()]
    result = run(
        "ingest",
        tmp_path / "malformed",
        *bad,
        CORPUS / "01-berlin-solar.pdf",
        "--index-dir",
        ix,
        "--model",
        "fake",
        "--workers",
        "2",
        "--json",
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    report = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    failed = {f["path"] for f in report.values() if f["status"] == "failed"}
    assert len(lines) == len(failed)  # one line per failed file, each naming it with its reason
    for path in failed:
        [line] = [line for line in lines if line.startswith(f"error: {path}: ")]
        assert line == f"error: {path}: {report[path]['reason']}" and len(line) < 400
    expected = {
        "random bytes": "not a PDF (no %PDF- header)",
        "random bytes after a header": "corrupt or truncated PDF",
        "html": "not a PDF (no %PDF- header)",
        "images only": "no text layer (scanned?)",
        "a PDF named .txt": "a PDF named .txt: rename it to .pdf",
        "binary .md": "binary file, not text",
    }
    for kind, reason in expected.items():
        assert reason in report[str(malformed[kind])]["reason"], kind
    for kind, path in malformed.items():
        if kind.startswith("cut at"):  # cut short: unreadable, or readable enough (nothing else)
            status, reason = report[str(path)]["status"], report[str(path)]["reason"] or ""
            assert status == "added" or "corrupt or truncated PDF" in reason, (kind, reason)
    assert report[str(malformed["huge page count"])]["status"] == "added"
    assert report[str(malformed["huge page count"])]["pages"] == 1  # the one page that is there
    assert report[str(malformed["1,000 pages"])]["status"] == "added"
    assert report[str(malformed["1,000 pages"])]["pages"] == 1000
    assert report[str(CORPUS / "01-berlin-solar.pdf")]["status"] == "added"
    after = contents(ix)
    assert (
        after["07-denver-climate-fund.pdf"][0] == before["07-denver-climate-fund.pdf"][0]
    )  # kept as it was
    assert_consistent(ix)
