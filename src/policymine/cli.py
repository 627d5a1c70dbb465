"""The `policymine` command line: parse arguments, call one library function, format the result.

Human output goes through rich; machine output (--json, JSONL, CSV) goes to stdout and
nothing else does. Any PolicymineError becomes one line on stderr and exit code 1.
"""

from __future__ import annotations

import csv
import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from . import config
from .errors import PolicymineError, printable
from .types import Filters, explain_line

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11


class _Group(TyperGroup):
    """The CLI's entry point: sets the offline environment before any command runs, and turns
    every PolicymineError into one line on stderr and exit code 1: no tracebacks."""

    def invoke(self, ctx):
        config.set_offline()
        try:
            return super().invoke(ctx)
        except PolicymineError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    help="Mine city policy PDFs: extract, tag, search semantically, and digest practices across cities.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# Options shared by several commands, written once; defaults named in help come from Settings.
DEFAULTS = config.Settings()
IndexDir = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        help=f"Index folder \\[default: ./{DEFAULTS.index_dir}; env: {config.ENV_PREFIX}INDEX_DIR].",
        show_default=False,
    ),
]
ReaderModel = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Embedding model of the index (minilm or use) \\[default: the one the index records].",
        show_default=False,
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Embedding model: minilm (English) or use (multilingual, 16 languages)"
        f" \\[default: {DEFAULTS.model}].",
        show_default=False,
    ),
]
Taxonomy = Annotated[
    Path | None,
    typer.Option(
        "--taxonomy",
        help="Your own topic taxonomy (TOML) instead of the default.",
        show_default=False,
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=f"Settings file \\[default: ./{config.CONFIG_FILE} if present].",
        show_default=False,
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout instead of a human listing.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Ocr = Annotated[
    bool,
    typer.Option(
        "--ocr", help="Read pages without a usable text layer (scans, broken fonts) with Tesseract."
    ),
]
Executor = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Run extraction, tagging and embedding here (local) or on Ray (ray)"
        f" \\[default: {DEFAULTS.executor}].",
        show_default=False,
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="With --executor ray: the cluster to join (e.g. ray://head:10001) \\[default: start Ray here].",
        show_default=False,
    ),
]
Workers = Annotated[
    int | None, typer.Option("--workers", min=1, help="Extraction processes \\[default: CPUs].")
]
K = Annotated[int, typer.Option("-k", "--top", min=1, max=1000, help="How many hits.")]
Topic = Annotated[str | None, typer.Option("--topic", help="Only passages tagged with this topic.")]
City = Annotated[
    str | None,
    typer.Option(
        "--city", help="Only documents about this city, in any spelling (München, Munich)."
    ),
]
Country = Annotated[
    str | None,
    typer.Option(
        "--country",
        help="Only documents from this country: ISO code or name (DE, Germany, Deutschland).",
    ),
]
Doc = Annotated[
    str | None,
    typer.Option("--doc", help="Only this document (file name or part of it, or of its title)."),
]
Lang = Annotated[
    str | None, typer.Option("--lang", help="Only documents in this language (en, de, ...).")
]
YearFrom = Annotated[
    int | None, typer.Option("--year-from", help="Only documents from this year on.")
]
YearTo = Annotated[int | None, typer.Option("--year-to", help="Only documents up to this year.")]
PerDoc = Annotated[
    int | None,
    typer.Option(
        "--per-doc",
        min=1,
        help=f"At most this many hits from one document \\[default: {DEFAULTS.per_doc}].",
        show_default=False,
    ),
]


class _Bar:
    """A rich progress bar over pages and files, on stderr, silent when not on a terminal."""

    def __init__(self, quiet: bool):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pages · {task.fields[files]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet or not err.is_terminal,
            transient=True,
        )
        self.files = 0
        self.total_files = 0

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def begin(self, files: int, pages: int) -> None:
        self.total_files = files
        self.task = self.progress.add_task(
            "extracting", total=pages or None, files=f"0/{files} files"
        )

    def advance(self, path: Path, pages: int) -> None:
        self.files += 1
        self.progress.update(
            self.task,
            advance=pages,
            description=escape(path.name[:40]),
            files=f"{self.files}/{self.total_files} files",
        )


def _print_json(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=None))


def _snippet(text: str, width: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width].rsplit(" ", 1)[0] + " …"


def _print_hits(hits, as_json: bool) -> None:
    if as_json:
        _print_json([h.to_dict() for h in hits])
        return
    if not hits:
        err.print("no hits")
        return
    if hits[0].nearest:
        err.print("no close matches; nearest:")
    for hit in hits:
        place = ", ".join(x for x in (hit.city, hit.country) if x) or "place unknown"
        out.print(
            f"[bold]{hit.rank:>2}[/]  [cyan]{hit.score:.3f}[/]  [bold]{escape(_snippet(hit.title, 66))}[/]"
        )
        out.print(
            f"    [dim]{escape(hit.doc)} p. {hit.pages}[/] · {escape(place)} · topics: {escape(', '.join(hit.topics) or '-')}"
            f" · passage {hit.passage_id}",
            soft_wrap=True,
        )
        if hit.explain:
            out.print(f"    [magenta]why:[/] {escape(explain_line(hit.explain))}", soft_wrap=True)
        out.print(f"    {escape(_snippet(hit.text))}\n", soft_wrap=True)


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="PDF, .txt or .md files, or folders of them.", show_default=False),
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files are gone.")
    ] = False,
    index_dir: IndexDir = None,
    model: Model = None,
    taxonomy: Taxonomy = None,
    workers: Workers = None,
    ocr: Ocr = False,
    executor: Executor = None,
    ray_address: RayAddress = None,
    config_file: ConfigFile = None,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Extract, tag, embed and store documents; unchanged files are skipped.

    Examples:
      policymine ingest corpus/ ~/plans/berlin-klimaschutz.pdf --prune
      policymine ingest /shared/plans/ --executor ray --ray-address ray://head:10001
    """
    from .pipeline import ingest as run
    from .pipeline import skipped_note

    settings = _settings(
        config_file,
        index_dir=index_dir,
        model=model,
        taxonomy=taxonomy,
        workers=workers,
        ocr=ocr,
        executor=executor,
        ray_address=ray_address,
    )
    with _Bar(quiet) as bar:
        report = run(paths, settings, prune=prune, progress=bar)
    for file in report.files:  # one line per failure and per warning, each naming its file
        if file.status == "failed":
            typer.echo(f"error: {printable(file.path)}: {file.reason}", err=True)
        for warning in file.warnings:
            typer.echo(f"warning: {printable(file.path)}: {warning}", err=True)
    if report.skipped:
        typer.echo(f"note: {skipped_note(report.skipped)}", err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.save_error:
        typer.echo(f"error: {report.save_error}", err=True)
    summary = report.summary()
    if json_:
        _print_json(report.to_dict())
    elif not quiet or not report.ok:
        err.print(
            f"{summary['added']} added, {summary['updated']} updated, {summary['skipped']} skipped,"
            f" {summary['failed']} failed, {summary['removed']} removed · {summary['pages']} pages,"
            f" {summary['passages']} passages · {summary['seconds']} s · index: {settings.index_dir}"
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help="What to look for, in plain words.", show_default=False)
    ],
    k: K = 10,
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="hybrid (meaning and words), dense (meaning) or keyword (words, bm25)."
        ),
    ] = "hybrid",
    topic: Topic = None,
    city: City = None,
    country: Country = None,
    doc: Doc = None,
    lang: Lang = None,
    year_from: YearFrom = None,
    year_to: YearTo = None,
    per_doc: PerDoc = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Show why each hit matched: terms and bm25, similarity, ranks."
        ),
    ] = False,
    index_dir: IndexDir = None,
    model: ReaderModel = None,
    config_file: ConfigFile = None,
    json_: Json = False,
) -> None:
    """Search passages by meaning and by words; filters apply inside the search.

    Examples:
      policymine search "incentives for rooftop solar" --country DE -k 5
      policymine search "citizen advisory council" --mode dense --year-from 2015 --explain
      policymine search "Klimaschutz" --lang de --per-doc 1 --json | jq '.[].doc'
    """
    from .search import search as run

    settings = _reader_settings(config_file, model, index_dir=index_dir, per_doc=per_doc)
    filters = Filters(
        topic=topic,
        city=city,
        country=country,
        doc=doc,
        lang=lang,
        year_from=year_from,
        year_to=year_to,
    )
    _print_hits(run(query, settings, k, filters, mode, explain), json_)


@app.command()
def similar(
    passage_id: Annotated[
        int | None, typer.Argument(help="A passage id, as shown by `search`.", show_default=False)
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Or any text: a practice you have in mind.")
    ] = None,
    k: K = 10,
    topic: Topic = None,
    city: City = None,
    country: Country = None,
    doc: Doc = None,
    lang: Lang = None,
    year_from: YearFrom = None,
    year_to: YearTo = None,
    per_doc: PerDoc = None,
    index_dir: IndexDir = None,
    model: ReaderModel = None,
    config_file: ConfigFile = None,
    json_: Json = False,
) -> None:
    """Comparable practices in other documents and other cities, diversified (MMR).

    Examples:
      policymine similar 42 -k 5
      policymine similar --text "a citizens' climate council advises the mayor" --country DE
    """
    from .search import similar as run

    settings = _reader_settings(config_file, model, index_dir=index_dir, per_doc=per_doc)
    filters = Filters(
        topic=topic,
        city=city,
        country=country,
        doc=doc,
        lang=lang,
        year_from=year_from,
        year_to=year_to,
    )
    _print_hits(run(passage_id, settings, k, filters, text=text), json_)


@app.command()
def reembed(
    model: Annotated[
        str,
        typer.Option("--model", help="The model to switch to: minilm or use.", show_default=False),
    ],
    index_dir: IndexDir = None,
    config_file: ConfigFile = None,
    quiet: Quiet = False,
) -> None:
    """Embed every stored passage again with another model; texts and tags are kept.

    The index records the new model, so later searches use it. Copy the index folder
    first to keep the old one.

    Example: policymine reembed --model use --index-dir indexes-use   (after cp -r indexes indexes-use)
    """
    from .pipeline import reembed as run
    from .store import Store

    settings = config.load(config_file, index_dir=index_dir, model=model)
    with Store(settings.index_dir) as store:
        total = store.info()["passages"]
    progress = Progress(
        TextColumn("[bold]embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    )
    with progress:
        task = progress.add_task("embedding", total=total)
        n = run(settings, on_batch=lambda size: progress.advance(task, size))
    if not quiet:
        err.print(f"{n} passages embedded with {settings.model} · index: {settings.index_dir}")


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on; 127.0.0.1 keeps it on this machine."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8765,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            max=64,
            help="Requests searched at once; more wait \\[default: CPUs].",
            show_default=False,
        ),
    ] = None,
    index_dir: IndexDir = None,
    model: ReaderModel = None,
    config_file: ConfigFile = None,
) -> None:
    """Search in the browser, and over HTTP (JSON), from an index kept open: milliseconds per query.

    Open http://127.0.0.1:8765/ for the web app: search, page view, similar, practices, digests.
    The JSON endpoints take the same parameters as the commands: /search?q=...&k=&mode=&topic=
    &city=&country=&doc=&lang=&year_from=&year_to=&per_doc=&explain=1, /similar?id=... or
    ?text=..., and /health; /openapi.json describes them. Bad parameters get status 400 and
    {"error": "...", "status": 400}; every error is JSON. Silent clients are closed after
    serve_timeout seconds; at most serve_connections are served at once (policymine.toml).

    Example: policymine serve --port 8765 &  curl 'http://127.0.0.1:8765/search?q=heat+plan&k=3'
    """
    from .serve import THREADS
    from .web import make_server

    try:
        server = make_server(
            _reader_settings(config_file, model, index_dir=index_dir),
            host,
            port,
            threads or THREADS,
        )
    except OSError as exc:
        if exc.filename is not None:  # a file of the index, not the socket
            raise
        if exc.errno == errno.EADDRINUSE:
            raise PolicymineError(
                f"port {port} on {host} is already in use (another `policymine serve`?):"
                " stop what listens there, or choose another with --port"
            ) from None
        raise PolicymineError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --host or --port"
        ) from None
    err.print(
        f"serving {server.service.settings.index_dir} on http://{host}:{port} · Ctrl-C to stop"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.service.close()


@app.command()
def tag(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders to tag.", show_default=False)
    ],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write here (one line per document as it finishes) instead of stdout.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl (one document per line, with its passages) or csv (one row per document).",
        ),
    ] = "jsonl",
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip documents already in --out; tag only the rest.")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="JSONL: add each passage topic's matched terms and similarity."
        ),
    ] = False,
    model: Model = None,
    taxonomy: Taxonomy = None,
    workers: Workers = None,
    ocr: Ocr = False,
    executor: Executor = None,
    ray_address: RayAddress = None,
    config_file: ConfigFile = None,
    quiet: Quiet = False,
) -> None:
    """Tag documents with topics, entities, city and country, without adding them to the index.

    Examples:
      policymine tag ~/plans/ --out tags.jsonl --resume
      policymine tag /shared/plans/ --out tags.jsonl --executor ray
    """
    from .pipeline import TAG_CSV_COLUMNS, tag_files, tagged_paths

    if fmt not in ("jsonl", "csv"):
        raise PolicymineError(f"unknown --format {fmt!r}: use jsonl or csv")
    if resume and not out_file:
        raise PolicymineError(
            "--resume needs --out: the file that holds the documents already tagged"
        )
    settings = _settings(
        config_file,
        model=model,
        taxonomy=taxonomy,
        workers=workers,
        ocr=ocr,
        executor=executor,
        ray_address=ray_address,
    )
    done = tagged_paths(out_file, fmt) if resume else set()
    sink = (
        open(out_file, "a" if resume else "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below, unlike stdout
        if out_file
        else sys.stdout
    )
    failed = 0
    try:
        writer = csv.writer(sink) if fmt == "csv" else None
        if writer and not done:
            writer.writerow(TAG_CSV_COLUMNS)
        with _Bar(quiet) as bar:
            for record in tag_files(paths, settings, progress=bar, done=done, explain=explain):
                if isinstance(record, PolicymineError):
                    failed += 1
                    typer.echo(f"error: {record}", err=True)
                    continue
                if writer:
                    top = sorted(record["topics"].items(), key=lambda kv: -kv[1])[:5]
                    writer.writerow(
                        [
                            record["doc"],
                            record["path"],
                            record["title"],
                            record["lang"],
                            record["city"] or "",
                            record["country"] or "",
                            record["pages"],
                            ";".join(f"{t}:{s}" for t, s in top),
                            ";".join(
                                f"{e['text']} ({e['label']})" for e in record["entities"][:20]
                            ),
                        ]
                    )
                else:
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()  # a crash loses at most the document being written
    finally:
        if out_file:
            sink.close()
    if out_file and not quiet:
        err.print(
            f"wrote {out_file}" + (f" ({len(done)} documents were already there)" if done else "")
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def practices(
    topic: Topic = None,
    city: City = None,
    instrument: Annotated[
        str | None,
        typer.Option(
            "--instrument", help="Only this instrument type, e.g. regulation, funding_incentive."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many records.")
    ] = 20,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            min=0.0,
            max=1.0,
            help="Only records the detector holds at least this likely to be a practice (0-1;"
            " a calibrated probability with the learned detector).",
        ),
    ] = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help="Recompute every practice record from the stored passages first."
        ),
    ] = False,
    index_dir: IndexDir = None,
    config_file: ConfigFile = None,
    json_: Json = False,
) -> None:
    """Practice records: passages that describe a concrete measure, with title, instrument, actors, years, quantities and status.

    Examples:
      policymine practices --topic housing --instrument regulation --json
      policymine practices --city Berlin --min-score 0.8
    """
    from .practices import list_practices

    settings = config.load(config_file, index_dir=index_dir)
    found = list_practices(
        settings, Filters(topic=topic, city=city), instrument, limit, rebuild, min_score
    )
    if json_:
        _print_json([p.to_dict() for p in found])
        return
    if not found:
        err.print("no practices")
    for p in found:
        place = ", ".join(x for x in (p.hit.city, p.hit.country) if x) or "place unknown"
        facts = " · ".join(
            x
            for x in (
                p.instrument or "-",
                p.status,
                ", ".join(map(str, p.years)),
                ", ".join(p.quantities[:3]),
            )
            if x
        )
        out.print(f"[bold]{escape(_snippet(p.title, 90))}[/]  [cyan]{p.score:.2f}[/]")
        out.print(f"    [dim]{escape(place)} · {escape(facts)}[/]")
        out.print(f"    {escape(_snippet(p.quote))}")
        out.print(f"    [dim]{escape(p.citation)}[/]")


@app.command()
def digest(
    topic: Annotated[
        str | None, typer.Option("--topic", help="A taxonomy topic, e.g. energy.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="A question or practice to look for.")
    ] = None,
    city: Annotated[
        list[str] | None, typer.Option("--city", help="Only these cities (repeat the option).")
    ] = None,
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Output file: .html or .md (a .png figure is written beside it)."
        ),
    ] = Path("digest.md"),
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", min=1, help="At most this many practices (fewer when fewer qualify)."
        ),
    ] = 40,
    index_dir: IndexDir = None,
    model: ReaderModel = None,
    config_file: ConfigFile = None,
    json_: Json = False,
) -> None:
    """A practice digest: the practices that answer a question (or are strongly about a topic), like measures compared across cities in tables, a figure of the digest by city and instrument, and citations linked to their pages.

    A query digest keeps only the practices that pass a relevance gate calibrated on judged queries, a topic digest those strongly about the topic. When no practice qualifies, one line says what was searched, no file is written and the exit code is 1.

    Example: policymine digest --query "protecting residents from extreme heat" --out heat.html
    """
    from .digest import build_digest, compared_text, write_digest

    result = build_digest(
        _reader_settings(config_file, model, index_dir=index_dir), topic, query, city, limit
    )
    if not result.practices:
        err.print(escape(result.empty_message))
        raise typer.Exit(1)
    if json_:
        _print_json(result.to_dict())
        return
    path = write_digest(result, out_file)
    err.print(
        f"wrote {path} · {len(result.practices)} practices from {len(result.cities)} places;"
        f" {compared_text(result)}"
    )


@app.command()
def info(index_dir: IndexDir = None, config_file: ConfigFile = None, json_: Json = False) -> None:
    """What the index holds: documents, pages, passages, model, topics and cities.

    Example: policymine info --json
    """
    from .store import Store

    with Store(config.load(config_file, index_dir=index_dir).index_dir) as store:
        stats = store.info()
    if json_:
        _print_json(stats)
        return
    out.print(
        f"[bold]{escape(stats['index_dir'])}[/]: {stats['documents']} documents, {stats['pages']} pages,"
        f" {stats['passages']} passages · model {stats['model']} (dim {stats['dim']})"
        f" · taxonomy {stats['taxonomy']} · schema {stats['schema_version']}"
    )
    for title, counts in (
        ("passages per topic", stats["topics"]),
        ("documents per city", stats["cities"]),
    ):
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        for key, n in counts.items():
            table.add_row(escape(str(key)), str(n))
        out.print(table)


@app.command()
def extract(
    path: Annotated[Path, typer.Argument(help="A PDF (or .txt/.md) file.", show_default=False)],
    fmt: Annotated[
        str, typer.Option("--format", help="text (pages, then passages) or json.")
    ] = "text",
    ocr: Ocr = False,
    config_file: ConfigFile = None,
) -> None:
    """Show what policymine reads in a file: cleaned text page by page, quality flags, passages.

    Nothing is stored. Pages whose text layer is missing or garbled are flagged (quality
    below 0.3) and left empty unless --ocr reads them.

    Example: policymine extract plan.pdf --format json | jq '.pages[] | select(.quality < 0.3)'
    """
    from .extract import MIN_QUALITY
    from .extract import extract as run
    from .segment import segment
    from .types import page_span

    if fmt not in ("text", "json"):
        raise PolicymineError(f"unknown --format {fmt!r}: use text or json")
    settings = _settings(config_file, ocr=ocr)
    doc = run(path, settings)
    passages = segment(doc, settings)
    if fmt == "json":
        fields = ("page", "page_end", "section", "kind", "char_start", "char_end", "text")
        _print_json(
            {
                "doc": doc.name,
                "title": doc.title,
                "lang": doc.lang,
                "year": doc.year,
                "warnings": doc.warnings,
                "pages": [p.to_dict() for p in doc.pages],
                "passages": [
                    {"id": i, **p.to_dict(*fields)} for i, p in enumerate(passages, start=1)
                ],
            }
        )
        return
    out.print(
        f"[bold]{escape(doc.title)}[/] · {doc.name} · lang {doc.lang} · {len(doc.pages)} pages · {len(passages)} passages"
    )
    for warning in doc.warnings:
        err.print(f"warning: {doc.name}: {warning}")
    for page in doc.pages:
        label = f" · printed {page.label}" if page.label else ""
        flag = " · [red]flagged: no usable text layer[/]" if page.quality < MIN_QUALITY else ""
        source = " · read by OCR" if page.source == "ocr" else ""
        out.print(
            f"\n[dim]--- page {page.number}{label} · quality {page.quality:.2f}{source}[/]{flag}"
        )
        out.print(escape(page.text), soft_wrap=True)
    out.print("\n[bold]=== passages[/]")
    for i, p in enumerate(passages, start=1):
        out.print(
            f"\n[dim]#{i} · p. {page_span(p.page, p.page_end)} · {p.kind} · {escape(p.section or '-')}[/]"
        )
        out.print(escape(p.text), soft_wrap=True)


eval_app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    help="Measure quality on labelled data: topic tagging, document places, search, practice detection.",
)
app.add_typer(eval_app, name="eval")


@eval_app.command("tags")
def eval_tags(
    labelled: Annotated[
        Path,
        typer.Argument(
            help='JSONL rows with "text" and "topics" (and "split").', show_default=False
        ),
    ],
    split: Annotated[
        str, typer.Option("--split", help="Which rows: test (held out), dev (for tuning) or all.")
    ] = "test",
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help=f"Topic score threshold \\[default: {DEFAULTS.topic_threshold}].",
            show_default=False,
        ),
    ] = None,
    model: Model = None,
    taxonomy: Taxonomy = None,
    config_file: ConfigFile = None,
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines",
            help="The learned classifiers beside the previous scorer, a keyword rule and the"
            " majority class, over all rows and per language (default taxonomy).",
        ),
    ] = False,
    json_: Json = False,
) -> None:
    """Per-topic precision, recall and F1 of topic tagging, and macro-F1.

    Examples:
      policymine eval tags eval/passages.jsonl --split test
      policymine eval tags eval/passages.jsonl --split test --baselines
    """
    from .evaluate import compare_tags, evaluate_tags

    settings = config.load(config_file, model=model, taxonomy=taxonomy, topic_threshold=threshold)
    if baselines:
        results = compare_tags(labelled, split, settings.model)
        if json_:
            _print_json([{"system": s, "lang": lang, **r.to_dict()} for s, lang, r in results])
            return
        topics = [t.topic for t in results[0][2].topics]
        out.print(f"{labelled} · split {split} · F1 per topic")
        out.print(f"| system | lang | rows | macro-F1 | {' | '.join(topics)} |")
        out.print("|---|---|---|---|" + "---|" * len(topics))
        for system, lang, r in results:
            cells = " | ".join(f"{t.f1:.2f}" if t.support else "–" for t in r.topics)
            out.print(f"| {system} | {lang} | {r.rows} | {r.macro_f1:.3f} | {cells} |")
        return
    report = evaluate_tags(labelled, settings, split)
    if json_:
        _print_json(report.to_dict())
        return
    table = Table(
        title=f"{report.rows} passages · split {report.split} · threshold {report.threshold}",
        title_justify="left",
    )
    for column in ("topic", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for t in report.topics:
        table.add_row(
            t.topic, f"{t.precision:.2f}", f"{t.recall:.2f}", f"{t.f1:.2f}", str(t.support)
        )
    out.print(table)
    out.print(f"macro-F1 {report.macro_f1:.3f} · micro-F1 {report.micro_f1:.3f}")


@eval_app.command("search")
def eval_search(
    qrels: Annotated[
        Path,
        typer.Argument(help="TSV: qid, query, doc, page, grade [, split].", show_default=False),
    ],
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            help="Mode(s) to evaluate \\[default: dense, keyword, hybrid].",
            show_default=False,
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help="Queries of this split only (6th column), or all.")
    ] = "all",
    per_query: Annotated[
        bool, typer.Option("--per-query", help="Also list each query's figures.")
    ] = False,
    index_dir: IndexDir = None,
    model: ReaderModel = None,
    config_file: ConfigFile = None,
    json_: Json = False,
) -> None:
    """nDCG@10, Recall@20 and MRR of search over judged queries, per mode and query group.

    A hit is relevant when its document and page match a judged row with grade 1 or 2.

    Example: policymine eval search eval/qrels.tsv --index-dir /data/real-index --split test
    """
    from .evaluate import evaluate_search
    from .search import MODES

    modes = mode or ["dense", "keyword", "hybrid"]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise PolicymineError(f"unknown search mode {unknown[0]!r}: use one of {', '.join(MODES)}")
    report = evaluate_search(
        qrels, _reader_settings(config_file, model, index_dir=index_dir), modes, split
    )
    if json_:
        _print_json(report.to_dict())
        return
    table = Table(title=f"{report.queries} queries · {qrels} · split {split}", title_justify="left")
    for column in ("mode", "queries", "group", "nDCG@10", "Recall@20", "MRR"):
        table.add_column(column, justify="left" if column in ("mode", "group") else "right")
    for r in report.rows:
        table.add_row(
            r["mode"],
            str(r["queries"]),
            r["group"],
            f"{r['ndcg@10']:.3f}",
            f"{r['recall@20']:.3f}",
            f"{r['mrr']:.3f}",
        )
    out.print(table)
    if per_query:
        for r in report.per_query:
            out.print(
                f"{r['mode']:<8} {r['qid']:<6} nDCG@10 {r['ndcg@10']:.3f}  R@20 {r['recall@20']:.3f}  MRR {r['mrr']:.3f}"
            )


@eval_app.command("practices")
def eval_practices(
    labelled: Annotated[
        Path,
        typer.Argument(
            help='JSONL rows with "text", "is_practice", "instrument", "status", "lang", "split".'
        ),
    ] = Path("eval/passages.jsonl"),
    split: Annotated[
        str, typer.Option("--split", help="Which rows: test (held out), dev (for tuning) or all.")
    ] = "test",
    model: Model = None,
    json_: Json = False,
) -> None:
    """The learned practice detector beside the keyword rule and the majority class, in one run:
    precision, recall, F1 of "is a practice"; instrument and status accuracy on the true
    practices; over all rows and per language.

    Example: policymine eval practices eval/passages.jsonl --split test
    """
    from .evaluate import compare_practices

    results = compare_practices(labelled, split, model or DEFAULTS.model)
    if json_:  # the learned detector over all rows, then every system and language
        system, lang, first = results[0]
        rows = [{"system": s, "lang": g, **r.to_dict()} for s, g, r in results]
        _print_json({"system": system, "lang": lang, **first.to_dict(), "systems": rows})
        return
    out.print(f"{labelled} · split {split}")
    out.print(
        "| system | lang | passages | practices | precision | recall | F1 | instrument acc. | status acc. |"
    )
    out.print("|---|---|---|---|---|---|---|---|---|")
    for system, lang, report in results:
        d = report.to_dict()
        out.print(
            f"| {system} | {lang} | {report.rows} | {report.gold} | {d['precision']:.3f} |"
            f" {d['recall']:.3f} | {d['f1']:.3f} | {d['instrument_accuracy']:.3f} |"
            f" {d['status_accuracy']:.3f} |"
        )


@eval_app.command("places")
def eval_places(
    truth: Annotated[
        Path,
        typer.Argument(
            help="TSV with columns doc, city, country (empty: none).", show_default=False
        ),
    ],
    tags_file: Annotated[
        Path | None,
        typer.Option(
            "--tags",
            help="Output of `policymine tag` to check \\[default: the index].",
            show_default=False,
        ),
    ] = None,
    splits: Annotated[
        Path | None,
        typer.Option(
            "--splits",
            help="TSV with columns doc, lang, split: report per language, on all documents and on the test split.",
            show_default=False,
        ),
    ] = None,
    index_dir: IndexDir = None,
    config_file: ConfigFile = None,
    json_: Json = False,
) -> None:
    """Check each document's city and country against the truth.

    Examples:
      policymine eval places eval/places.tsv --tags tags.jsonl --splits eval/labels/splits.tsv
      policymine eval places tests/data/places/truth.tsv --tags written.jsonl
    """
    from .evaluate import (
        evaluate_places,
        langs_from_tags,
        place_groups,
        places_from_tags,
        read_splits,
    )

    if tags_file:
        found = places_from_tags(tags_file)
        langs = langs_from_tags(tags_file)
    else:
        from .store import Store

        with Store(config.load(config_file, index_dir=index_dir).index_dir) as store:
            stored = store.document_places()
        found = {d["doc"]: (d["city"], d["country"]) for d in stored}
        langs = {d["doc"]: d["lang"] for d in stored}
    split_of: dict[str, str] = {}
    if splits:
        split_langs, split_of = read_splits(splits)
        langs = {**langs, **split_langs}
    results = evaluate_places(truth, found)
    city_ok = sum(r.city_ok for r in results)
    country_ok = sum(r.country_ok for r in results)
    groups = place_groups(results, langs, split_of)
    if json_:
        _print_json(
            {
                "documents": len(results),
                "city_correct": city_ok,
                "country_correct": country_ok,
                "groups": [g.__dict__ for g in groups],
                "wrong": [r.__dict__ for r in results if not (r.city_ok and r.country_ok)],
            }
        )
        return
    out.print("| documents | lang | n | city right | country right |")
    out.print("|---|---|---|---|---|")
    for g in groups:
        out.print(
            f"| {g.docs} | {g.lang} | {g.documents} | {g.city_correct} | {g.country_correct} |"
        )
    for r in results:
        if not (r.city_ok and r.country_ok):
            out.print(
                f"{escape(r.doc)}: expected {r.city or '-'} / {r.country or '-'}, found {r.found_city or '-'} / {r.found_country or '-'}"
            )
    out.print(
        f"city right for {city_ok} of {len(results)} documents · country right for {country_ok} of {len(results)}"
    )


def _settings(config_file: Path | None, ocr: bool = False, **overrides) -> config.Settings:
    """Settings for a command; --ocr is checked here so a missing Tesseract stops the run at once."""
    settings = config.load(config_file, ocr=ocr or None, **overrides)
    if settings.ocr:
        from .ocr import require

        require()
    return settings


def _reader_settings(config_file: Path | None, model: str | None, **overrides) -> config.Settings:
    """Settings for a command that reads an index (search, similar, serve, digest, eval search):
    its model is the one the index records, unless --model names one, which must then be it."""
    from .search import index_model

    settings = config.load(config_file, model=model, **overrides)
    return settings if model else index_model(settings)
