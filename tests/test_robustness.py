"""Hostile input and a hostile machine: malformed PDFs, link loops, a full disk, a read-only
index folder, a busy port. Each must end in one line per problem naming the file (or the
folder, or the port), exit code 1, no traceback, and nothing already indexed changed."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, child_env, fake_cli, minimal_pdf, settings_for
from test_crash import assert_consistent, contents

from policymine.analyse import extract_safely, library_messages, summarise
from policymine.errors import ExtractionError
from policymine.extract import extract

MALFORMED = Path(
    os.environ.get(
        "POLICYMINE_MALFORMED", Path(__file__).resolve().parents[2] / "shared" / "malformed"
    )
)
TIME_LIMIT = 60  # seconds per file; the slowest malformed file takes about 2


def cli(*args: object, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`policymine ARGS --model fake` in a child process: real stderr, real exit code."""
    return subprocess.run(
        fake_cli(*args),
        check=False,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rows(index_dir: Path) -> dict[str, list[tuple]]:
    """Every row of every table that belongs to a document, per document name, as stored."""
    db = sqlite3.connect(f"file:{index_dir / 'policymine.db'}?mode=ro", uri=True)
    try:
        out = {}
        for doc_id, name in db.execute("SELECT id, name FROM documents"):
            passages = "SELECT id FROM passages WHERE doc_id = ?"
            out[name] = [
                *db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)),
                *db.execute("SELECT * FROM pages WHERE doc_id = ? ORDER BY 2", (doc_id,)),
                *db.execute("SELECT * FROM passages WHERE doc_id = ? ORDER BY id", (doc_id,)),
                *db.execute(
                    f"SELECT * FROM passage_topics WHERE passage_id IN ({passages}) ORDER BY 1, 2",
                    (doc_id,),
                ),
                *db.execute(
                    f"SELECT * FROM practices WHERE passage_id IN ({passages}) ORDER BY 1",
                    (doc_id,),
                ),
            ]
        return out
    finally:
        db.close()


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]


@pytest.fixture
def index_copy(fake_index, tmp_path) -> Path:
    """A writable copy of the bundled corpus's index (fake model)."""
    copy = tmp_path / "ix"
    shutil.copytree(fake_index, copy)
    return copy


# ---------------------------------------------------------------- the malformed corpus


@pytest.mark.skipif(
    not (MALFORMED / "MANIFEST.tsv").is_file(),
    reason=f"the malformed PDFs are not at {MALFORMED} (set POLICYMINE_MALFORMED)",
)
def test_malformed_corpus_gets_one_line_per_failed_file_and_leaves_the_index_as_it_was(
    index_copy,
):
    before = rows(index_copy)
    result = cli(
        "ingest",
        MALFORMED,
        "--index-dir",
        index_copy,
        "--workers",
        "2",
        "--json",
        POLICYMINE_FILE_TIMEOUT=str(TIME_LIMIT),
    )
    no_traceback(result)
    assert result.returncode == 1
    report = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    manifest = [
        line.split("\t")[0] for line in (MALFORMED / "MANIFEST.tsv").read_text().splitlines()[1:]
    ]
    assert sorted(report) == sorted(manifest)  # every file answered for, nothing else taken
    failed = {name: f for name, f in report.items() if f["status"] == "failed"}
    assert 0 < len(failed) < len(report)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(errors) + len(warnings) == len(lines)  # no stray line (a library's, say)
    assert sorted(errors) == sorted(
        f"error: {MALFORMED / name}: {f['reason']}" for name, f in failed.items()
    )
    for line in warnings:  # each names a file that was added, with what went wrong in it
        name = line.removeprefix(f"warning: {MALFORMED}/").split(": ")[0]
        assert (
            report[name]["status"] == "added" and line.split(": ", 2)[2] in report[name]["warnings"]
        )
    for f in failed.values():
        assert "timed out" not in f["reason"] and len(f["reason"]) < 300
        assert (
            "object" not in f["reason"] and "Error" not in f["reason"]
        )  # no Python error as reason
    assert "needs a password" in failed["pypdf__r5-user-password.pdf"]["reason"]
    # "Hello, world!" is a short but real text layer: added, with a word on its missing passages
    hello = report["pdfjs__helloworld-bad.pdf"]
    assert hello["status"] == "added" and any("no passage" in w for w in hello["warnings"])
    after = rows(index_copy)
    for name in before:
        assert after[name] == before[name], name  # the bundled documents, byte for byte
    db = sqlite3.connect(index_copy / "policymine.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


# ---------------------------------------------------------------- what used to be tracebacks


def test_symlink_loops_are_reported_and_the_batch_goes_on(index_copy, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (tmp_path / "loop1.pdf").symlink_to("loop2.pdf")
    (tmp_path / "loop2.pdf").symlink_to("loop1.pdf")
    (folder / "a.pdf").symlink_to("b.pdf")
    (folder / "b.pdf").symlink_to("a.pdf")
    (folder / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (folder / "plan.txt").write_text(
        "The council adopted a plan to plant a tree in every street of the old town by 2030.\n"
    )
    result = cli("ingest", tmp_path / "loop1.pdf", folder, "--index-dir", index_copy)
    no_traceback(result)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    for path in (tmp_path / "loop1.pdf", folder / "a.pdf", folder / "b.pdf"):
        assert (
            f"error: {path}: symbolic link loop (the link leads back to itself): fix or remove the link"
            in lines
        )
    assert any(
        line.startswith(f"error: {folder / 'gone.txt'}: broken symbolic link") for line in lines
    )
    assert lines[-1].startswith("1 added, 0 updated, 0 skipped, 4 failed")


def test_names_with_control_characters_stay_on_one_line(index_copy, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "two\nlines.pdf").write_bytes(b"%PDF-1.4\nnot really")
    (folder / "red\x1b[31m.pdf").write_bytes(b"no header")
    result = cli("ingest", folder, "--index-dir", index_copy, "-q")
    no_traceback(result)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"error: {folder}/two\\nlines.pdf: corrupt or truncated PDF" in "\n".join(lines)
    assert f"error: {folder}/red\\x1b[31m.pdf: not a PDF (no %PDF- header)" in lines
    assert len(lines) == 3 and "\x1b" not in result.stderr  # two errors and the summary


def _can_mount(tmp_path: Path) -> bool:
    """Running as root where `mount` works (a container may forbid it)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    ok = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
            check=False,
            capture_output=True,
        ).returncode
        == 0
    )
    if ok:
        subprocess.run(["umount", probe], check=True)
    return ok


@contextlib.contextmanager
def mounted(*args: object):
    """`mount ARGS`, undone on the way out."""
    subprocess.run(["mount", *map(str, args)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(args[-1])], check=True, capture_output=True)


def _new_documents(folder: Path, n: int = 6) -> list[Path]:
    folder.mkdir()
    sentence = "The city funds {} new trees, {} metres of cycle lanes and a heat plan for schools. "
    paths = []
    for i in range(n):
        path = folder / f"plan-{i}.txt"
        path.write_text("".join(sentence.format(i * 100 + j, j) for j in range(300)))
        paths.append(path)
    return paths


def test_a_full_disk_during_ingest_is_one_line_and_the_next_run_repairs(index_copy, tmp_path):
    """The disk fills up for real: a tmpfs a little bigger than the index (as root, where
    `mount` works); elsewhere the vector index's write fails with ENOSPC instead (in process)."""
    docs = _new_documents(tmp_path / "docs")
    before = rows(index_copy)
    if not _can_mount(tmp_path):
        return _disk_full_without_a_mount(index_copy, docs, before)
    disk = tmp_path / "disk"
    disk.mkdir()
    size = sum(p.stat().st_size for p in index_copy.iterdir()) + 160 * 1024
    with mounted("-t", "tmpfs", "-o", f"size={size}", "tmpfs", disk):
        shutil.copytree(index_copy, disk / "ix")
        result = cli("ingest", *docs, "--index-dir", disk / "ix")
        no_traceback(result)
        assert result.returncode == 1
        lines = result.stderr.splitlines()
        not_stored = [line for line in lines if "not stored: the disk is full" in line]
        unsaved = [
            line for line in lines if line.startswith("error: could not save the vector index")
        ]
        assert not_stored or unsaved, lines
        assert all(line.startswith("error: ") for line in lines[:-1])
        summary = lines[-1]  # the closing line still comes, and counts the files that failed
        assert f"{len(not_stored)} failed" in summary
        assert not list((disk / "ix").glob("*.tmp"))
        shutil.copytree(disk / "ix", tmp_path / "rescued")
    after = rows(tmp_path / "rescued")
    assert all(after[name] == rows_ for name, rows_ in before.items())
    again = cli("ingest", *docs, "--index-dir", tmp_path / "rescued", "-q")  # room again
    no_traceback(again)
    assert again.returncode == 0, again.stderr
    assert {p.name for p in docs} <= set(contents(tmp_path / "rescued"))
    assert_consistent(tmp_path / "rescued")


def _disk_full_without_a_mount(index_dir: Path, docs: list[Path], before: dict) -> None:
    from typer.testing import CliRunner

    import policymine.index
    from policymine.cli import app

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    runner = CliRunner()
    args = ["ingest", *map(str, docs), "--index-dir", str(index_dir), "--model", "fake"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(policymine.index.faiss, "write_index", full)
        result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "error: could not save the vector index" in result.stderr
    assert f"{len(docs)} added" in result.stderr and not list(index_dir.glob("*.tmp"))
    assert all(rows(index_dir)[name] == rows_ for name, rows_ in before.items())
    assert runner.invoke(app, [*args, "-q"]).exit_code == 0
    assert_consistent(index_dir)


def test_a_read_only_index_is_searched_and_ingest_says_why_not(index_copy, tmp_path):
    """A real read-only folder: a read-only bind mount as root (chmod does not stop root),
    a folder without write permission otherwise. Search and info work; ingest says why not."""
    index_copy.joinpath(".ingest.lock").unlink(missing_ok=True)
    docs = rows(index_copy)  # before listing the files: a read-only connection may add -shm
    files = sorted(p.name for p in index_copy.iterdir())
    if os.geteuid() == 0:
        if not _can_mount(tmp_path):
            pytest.skip(
                "running as root where `mount` is not allowed: no way to make a folder read-only"
            )
        target = tmp_path / "ro"
        target.mkdir()
        context = contextlib.ExitStack()
        context.enter_context(mounted("--bind", index_copy, target))
        subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], check=True)
    else:
        target = index_copy
        target.chmod(0o555)
        context = contextlib.ExitStack()
        context.callback(target.chmod, 0o755)
    with context:
        with pytest.raises(OSError):
            (target / "probe").touch()
        search = cli("search", "rooftop solar", "--index-dir", target, "-k", "2")
        no_traceback(search)
        assert search.returncode == 0 and search.stdout.startswith(" 1  ")
        info = subprocess.run(  # info takes no --model
            [sys.executable, "-m", "policymine", "info", "--index-dir", str(target), "--json"],
            check=False,
            env=child_env(),
            capture_output=True,
            text=True,
        )
        assert info.returncode == 0 and json.loads(info.stdout)["documents"] == len(docs)
        ingest = cli("ingest", CORPUS / "01-berlin-solar.pdf", "--index-dir", target)
        no_traceback(ingest)
        assert ingest.returncode == 1
        why = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
        assert ingest.stderr.splitlines() == [
            (
                f"error: cannot write to {target} ({why}): searching it works,"
                " but to add files copy it to a folder you can write to and use that --index-dir"
            )
        ]
        assert sorted(p.name for p in target.iterdir()) == files  # nothing made, not even a lock


def test_serve_on_a_busy_port_says_which_and_what_to_do(fake_index):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--port", port, "--index-dir", fake_index, timeout=120)
    no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        (
            f"error: port {port} on 127.0.0.1 is already in use (another `policymine serve`?):"
            " stop what listens there, or choose another with --port"
        )
    ]


# ---------------------------------------------------------------- clearer messages


def test_nothing_to_ingest_says_what_was_skipped(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "office").mkdir()
    for name in ("a.docx", "b.docx", "c.png", "README.md"):
        (tmp_path / "office" / name).write_text("x")
    empty = cli("ingest", tmp_path / "empty", "--index-dir", tmp_path / "ix")
    assert empty.returncode == 1
    assert empty.stderr.splitlines() == [
        f"error: nothing to ingest in {tmp_path / 'empty'}: no files there"
    ]
    office = cli("ingest", tmp_path / "office", "--index-dir", tmp_path / "ix")
    assert office.returncode == 1
    assert office.stderr.splitlines() == [
        (
            f"error: nothing to ingest in {tmp_path / 'office'}: skipped 3 files of other types in"
            " the folders (2 .docx, 1 .png); policymine reads .pdf, .txt, .md"
        )
    ]
    assert not (tmp_path / "ix").exists()  # no empty index left behind


def test_a_folder_with_other_files_besides_gets_a_note(index_copy, tmp_path):
    docs = _new_documents(tmp_path / "docs", 1)
    (tmp_path / "docs" / "slides.pptx").write_text("x")
    result = cli("ingest", tmp_path / "docs", "--index-dir", index_copy, "-q")
    assert result.returncode == 0 and docs
    assert result.stderr.splitlines() == [
        "note: skipped 1 file of other types in the folders (1 .pptx); policymine reads .pdf, .txt, .md"
    ]


def test_an_unknown_topic_is_refused_the_same_way_everywhere_and_case_does_not_matter(fake_index):
    from typer.testing import CliRunner

    from policymine.cli import app

    def run(*args: str):
        return CliRunner().invoke(app, [*args, "--index-dir", str(fake_index)])

    fake = ("--model", "fake")
    for command in (["practices"], ["search", "solar", *fake], ["digest", "-o", "d.md", *fake]):
        result = run(*command, "--topic", "energie")
        assert result.exit_code == 1, command
        assert result.stderr.startswith(
            "error: unknown topic 'energie'; known topics: climate, energy"
        ), command
    practices = run("practices", "--topic", "ENERGY", "--json", "-n", "3")
    assert practices.exit_code == 0 and len(json.loads(practices.stdout)) == 3
    search = run("search", "solar", "--topic", "Energy", "--json", "-k", "3", *fake)
    assert search.exit_code == 0 and len(json.loads(search.stdout)) == 3
    assert all("energy" in hit["topics"] for hit in json.loads(search.stdout))


def _pdf_page(text: bytes, bad_xref_entry: bool = False) -> bytes:
    """A one-page PDF showing `text`; with a cross-reference entry that pdfminer logs about."""
    content = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    pdf = minimal_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
                b" /Resources << /Font << /F1 5 0 R >> >> >>"
            ),
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )
    if bad_xref_entry:
        pdf = pdf.replace(b"xref\n0 6\n", b"xref\n0 7\n")
        pdf = pdf.replace(b" n \ntrailer", b" n \n00000/0377 00000 n \ntrailer")
    return pdf


def test_a_short_real_text_layer_is_read(tmp_path):
    path = tmp_path / "hello.pdf"
    path.write_bytes(_pdf_page(b"Hello, world!"))
    assert extract(path).pages[0].text == "Hello, world!"


def test_library_messages_become_the_files_warnings_not_stray_stderr(tmp_path, capfd):
    path = tmp_path / "bad-xref.pdf"
    path.write_bytes(
        _pdf_page(b"The city plants a tree in every street of the old town.", bad_xref_entry=True)
    )
    doc = extract_safely(path, settings_for(tmp_path))  # pdfium reads it without a word
    assert not isinstance(doc, ExtractionError)
    assert "tree in every street" in doc.pages[0].text
    messages: list[str] = []  # pdfminer, still reading ruled tables, complains: kept with the file
    with library_messages(messages):
        extract(path, extractor="pdfplumber")
    assert summarise(messages) == [
        (
            "pdfminer: Not adding object 6 to xref because position b'00000/0377' or generation"
            " number b'00000' cannot be parsed as an int"
        )
    ]
    assert capfd.readouterr().err == ""


def test_a_pdf_cut_to_a_third_is_corrupt_or_truncated(tmp_path):
    good = (CORPUS / "01-berlin-solar.pdf").read_bytes()
    path = tmp_path / "third.pdf"
    path.write_bytes(good[: len(good) // 3])
    with pytest.raises(ExtractionError, match="corrupt or truncated PDF"):
        extract(path)


def test_a_python_error_inside_pdfminer_reads_as_a_broken_structure():
    """pdfplumber still reads ruled tables; pdfium reads this file (and finds no text)."""
    if not MALFORMED.is_dir():
        pytest.skip(f"{MALFORMED} is absent (the malformed PDFs of ../shared)")
    with pytest.raises(ExtractionError) as caught:
        extract(MALFORMED / "pdfjs__operator_list_cycle.pdf", extractor="pdfplumber")
    assert "(its internal structure is broken)" in caught.value.reason
