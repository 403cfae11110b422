"""`relaydesk kb …`: curate the knowledge base (import, publish, versions, export, index),
calibrate and measure its answers, and list the questions it could not answer."""

from __future__ import annotations

import csv
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from bots.commands.common import (
    console,
    err_console,
    fail,
    handle_errors,
    load_settings,
    print_json,
    register_user_errors,
    run,
)
from bots.db import Database
from bots.helpdesk import embedder_for
from bots.schema import ensure_current
from bots.settings import Settings
from knowledge.articles import STATUSES
from knowledge.errors import ArticleFormatError, KnowledgeError
from knowledge.evaluation import LabelledQuestion, read_labelled
from knowledge.gaps import Cluster
from knowledge.importer import parse_path
from knowledge.models import Article
from knowledge.retrieval import MODES
from knowledge.service import KnowledgeService

register_user_errors(KnowledgeError)

app = typer.Typer(help="Curate, index, calibrate and measure the knowledge base.")

T = TypeVar("T")
PROGRESS_FROM = 50  # show a progress bar from this many articles or units
AUTHOR_HELP = "Who makes the change (kept in the article's history)."
MAX_AUTHOR = 64


def check_author(value: str) -> str:
    """The --author option: who is kept in the history, so it must say someone."""
    if not value.strip():
        raise typer.BadParameter("is empty", param_hint="--author")
    if len(value.strip()) > MAX_AUTHOR:
        raise typer.BadParameter(f"longer than {MAX_AUTHOR} characters", param_hint="--author")
    return value.strip()


def check_path(value: str) -> str:
    """A path argument given as '' (which Path reads as the current folder) is a mistake."""
    if not value.strip():
        raise typer.BadParameter("is empty")
    return value


def check_language(value: str | None) -> str | None:
    """A --lang option: a two-letter code, in lower case."""
    if value is not None and (len(value) != 2 or not value.isalpha()):
        raise typer.BadParameter("must be a two-letter language code", param_hint="--lang")
    return value.lower() if value is not None else None


def knowledge_service(settings: Settings, db: Database) -> KnowledgeService:
    """The knowledge service for these settings (also used by `init --demo`)."""
    return KnowledgeService(
        db.sessions, settings.data_dir, embedder_for(settings), settings.chroma_url
    )


def with_service(work: Callable[[KnowledgeService], Awaitable[T]]) -> T:
    """Run `work` against a migrated database and the knowledge service, then close."""
    settings = load_settings()

    async def _run() -> T:
        db = Database(settings.effective_database_url)
        try:
            await ensure_current(db)
            return await work(knowledge_service(settings, db))
        finally:
            await db.close()

    coroutine: Coroutine[Any, Any, T] = _run()
    return run(coroutine)


class ProgressBars:
    """Rich progress bars on stderr for long imports and index builds."""

    LABELS: ClassVar[dict[str, str]] = {
        "import": "saving articles",
        "embed": "embedding",
        "index": "indexing",
    }

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_FROM:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
                transient=True,
            )
            self.progress.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(self.LABELS.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def article_dict(article: Article, *, body: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": article.slug,
        "title": article.title,
        "language": article.language,
        "translation_of": article.translation_of,
        "department": article.department,
        "tags": list(article.tags or []),
        "status": article.status,
        "questions": list(article.questions or []),
        "version": article.version,
        "created_at": article.created_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
    }
    if body:
        data["body"] = article.body
    return data


def print_warnings(warnings: list[str]) -> None:
    """Each warning as a `warning:` line on stderr."""
    for warning in warnings:
        err_console.print(
            f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True
        )


@app.command("import")
@handle_errors
def import_(
    given: str = typer.Argument(
        ...,
        metavar="PATH",
        help="A folder of Markdown files, a .csv or a .jsonl.",
        callback=check_path,
    ),
    publish: bool = typer.Option(False, "--publish", help="Publish every imported article."),
    author: str = typer.Option("admin", "--author", help=AUTHOR_HELP, callback=check_author),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import articles: new ones are added, changed ones get a new version, identical ones
    are skipped. Nothing is imported while any file is bad."""
    path = Path(given)
    try:
        problems = parse_path(path).errors
    except ArticleFormatError as exc:
        fail(str(exc))
    if problems:
        for problem in problems[:20]:
            err_console.print(
                f"[red]error:[/red] {escape(problem)}", highlight=False, soft_wrap=True
            )
        if len(problems) > 20:
            err_console.print(
                f"[red]error:[/red] … and {len(problems) - 20} more",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(1)
    bars = ProgressBars(enabled=not as_json)
    try:
        report = with_service(
            lambda kb: kb.import_path(path, author=author, publish=publish, progress=bars)
        )
    finally:
        bars.close()
    if as_json:
        print_json(report.to_dict())
        return
    print_warnings(report.warnings)
    console.print(
        f"imported {path}: {len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.unchanged)} skipped (unchanged)",
        highlight=False,
        soft_wrap=True,
    )
    for label, slugs in (("added", report.added), ("changed", report.changed)):
        if slugs and len(slugs) <= 20:
            console.print(f"  {label}: {', '.join(slugs)}", highlight=False, soft_wrap=True)
    index = report.index
    console.print(
        f"index: {len(index.added)} added, {len(index.updated)} updated, "
        f"{len(index.removed)} removed ({index.units} units embedded)",
        highlight=False,
        soft_wrap=True,
    )


@app.command("list")
@handle_errors
def list_(
    status: str | None = typer.Option(None, "--status", help="draft, published or archived."),
    language: str | None = typer.Option(
        None, "--lang", help="Only this language.", callback=check_language
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Articles by slug."""
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(STATUSES)}", param_hint="--status")
    rows = with_service(lambda kb: kb.articles(status=status, language=language))
    if as_json:
        print_json([article_dict(a) for a in rows])
        return
    table = Table("slug", "lang", "status", "v", "department", "title")
    for a in rows:
        table.add_row(a.slug, a.language, a.status, str(a.version), a.department or "-", a.title)
    console.print(table)
    console.print(f"{len(rows)} article{'s' if len(rows) != 1 else ''}", style="dim")


@app.command("show")
@handle_errors
def show(
    slug: str = typer.Argument(..., help="Article slug."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One article with its body."""
    article = with_service(lambda kb: kb.article(slug))
    data = article_dict(article, body=True)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{escape(data['title'])}[/bold]  [dim]{data['slug']}[/dim]")
    console.print(
        f"[dim]{data['language']} · {data['status']} · version {data['version']} · "
        f"department {data['department'] or '-'} · tags {', '.join(data['tags']) or '-'}"
        + (f" · translation of {data['translation_of']}" if data["translation_of"] else "")
        + "[/dim]",
        highlight=False,
        soft_wrap=True,
    )
    for question in data["questions"]:
        console.print(f"  [cyan]?[/cyan] {escape(question)}", highlight=False, soft_wrap=True)
    console.print()
    console.print(escape(data["body"]), highlight=False, soft_wrap=True)


def _status_change(slugs: list[str], author: str, publish: bool) -> None:
    async def change(kb: KnowledgeService) -> list[tuple[str, bool]]:
        for slug in slugs:  # all of them exist, or none changes
            await kb.article(slug)
        out = []
        for slug in slugs:
            done = await (kb.publish if publish else kb.archive)(slug, author=author)
            out.append((slug, done))
        return out

    verb = "published" if publish else "archived"
    for slug, done in with_service(change):
        console.print(
            f"{slug}: {verb}" if done else f"{slug}: already {verb}",
            highlight=False,
            soft_wrap=True,
        )


@app.command("publish")
@handle_errors
def publish(
    slugs: list[str] = typer.Argument(..., help="Article slugs."),
    author: str = typer.Option("admin", "--author", help=AUTHOR_HELP, callback=check_author),
) -> None:
    """Make articles answerable to customers."""
    _status_change(slugs, author, publish=True)


@app.command("archive")
@handle_errors
def archive(
    slugs: list[str] = typer.Argument(..., help="Article slugs."),
    author: str = typer.Option("admin", "--author", help=AUTHOR_HELP, callback=check_author),
) -> None:
    """Stop answering from articles (they keep their history)."""
    _status_change(slugs, author, publish=False)


@app.command("history")
@handle_errors
def history(
    slug: str = typer.Argument(..., help="Article slug."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every version of an article: who, when, what changed."""
    versions = with_service(lambda kb: kb.history(slug))
    if as_json:
        print_json(
            [
                {
                    "version": v.version,
                    "author": v.author,
                    "created_at": v.created_at,
                    "change": v.change,
                    "content": v.content.to_dict(),
                }
                for v in versions
            ]
        )
        return
    table = Table("version", "when", "who", "what changed")
    for v in versions:
        table.add_row(str(v.version), v.created_at[:19].replace("T", " "), v.author, v.change)
    console.print(table)


@app.command("rollback", context_settings={"ignore_unknown_options": True})  # VERSION -1
@handle_errors
def rollback(
    slug: str = typer.Argument(..., help="Article slug."),
    version: int = typer.Argument(..., help="The version whose content comes back."),
    author: str = typer.Option("admin", "--author", help=AUTHOR_HELP, callback=check_author),
) -> None:
    """Bring back an earlier version's content (as a new version; the status is kept)."""
    if version < 1:
        raise typer.BadParameter("versions start at 1", param_hint="VERSION")
    new = with_service(lambda kb: kb.rollback(slug, version, author=author))
    console.print(f"{slug}: content of version {version} restored as version {new}", soft_wrap=True)


@app.command("teach")
@handle_errors
def teach(
    words: list[str] | None = typer.Argument(
        None, metavar="SLUG QUESTION…", help="An article and questions it answers."
    ),
    file: Path | None = typer.Option(
        None, "--file", help="CSV with question and expected (slug) columns, as for kb eval."
    ),
    author: str = typer.Option("admin", "--author", help=AUTHOR_HELP, callback=check_author),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Add customers' questions to the example questions of the articles that answer them
    (a new version of each article), so questions worded like them are found and answered."""
    words = words or []
    if file is not None and words:
        raise typer.BadParameter("give SLUG QUESTION… or --file, not both")
    if file is not None:
        rows = read_labelled(file)
    elif len(words) < 2:
        raise typer.BadParameter(
            "give an article's SLUG and at least one QUESTION, or --file FILE.csv"
        )
    else:
        slug, questions = words[0], [q.strip() for q in words[1:]]
        if not all(questions):
            raise typer.BadParameter("a QUESTION is empty")
        rows = [LabelledQuestion(q, slug) for q in questions]
    report = with_service(lambda kb: kb.teach(rows, author=author))
    if as_json:
        print_json(report.to_dict())
        return
    print_warnings(report.warnings)
    for slug, added in report.added.items():
        console.print(
            f"{slug}: {len(added)} example question{'s' if len(added) > 1 else ''} added",
            highlight=False,
            soft_wrap=True,
        )
    notes = []
    if report.known:
        notes.append(f"{report.known} already known")
    if report.out_of_scope:
        notes.append(f"{report.out_of_scope} without an article skipped")
    taught = sum(len(added) for added in report.added.values())
    summary = (
        f"taught {taught} question{'' if taught == 1 else 's'} to {len(report.added)} "
        f"article{'' if len(report.added) == 1 else 's'}"
        if taught
        else "nothing new to teach"
    )
    console.print(
        summary
        + (f" ({', '.join(notes)})" if notes else "")
        + (f"; index: {report.index.units} units embedded" if taught else ""),
        highlight=False,
        soft_wrap=True,
    )
    if taught:
        console.print(
            "the answer thresholds were fitted before these questions: run "
            "`relaydesk kb calibrate FILE.csv` again with your labelled questions",
            highlight=False,
            soft_wrap=True,
        )


@app.command("export")
@handle_errors
def export(
    given: str = typer.Argument(
        ..., metavar="DIR", help="Folder to write <slug>.md files into.", callback=check_path
    ),
    status: str | None = typer.Option(None, "--status", help="Only articles in this status."),
) -> None:
    """Write articles as Markdown with front matter (`kb import` reads them back)."""
    folder = Path(given)
    if folder.exists() and not folder.is_dir():
        fail(f"{folder} is a file, not a folder")
    written = with_service(lambda kb: kb.export(folder, status=status))
    console.print(f"exported {len(written)} articles to {folder}", highlight=False, soft_wrap=True)


@app.command("reindex")
@handle_errors
def reindex() -> None:
    """Rebuild the vector index from the published articles (e.g. after changing embedder)."""
    bars = ProgressBars(enabled=True)
    try:
        report = with_service(lambda kb: kb.reindex(progress=bars))
    finally:
        bars.close()
    console.print(
        f"index rebuilt: {len(report.added)} articles, {report.units} units",
        highlight=False,
        soft_wrap=True,
    )


@app.command("status")
@handle_errors
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Articles per status, what the index holds, the embedder and the calibration in use."""
    data = with_service(lambda kb: kb.status())
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value}", highlight=False, soft_wrap=True)


@app.command("calibrate")
@handle_errors
def calibrate(
    file: Path = typer.Argument(..., help="CSV with question and expected (slug) columns."),
    precision: float = typer.Option(0.97, "--precision", help="Target precision of answers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fit confidence and per-language answer thresholds on labelled questions (an empty
    expected marks a question that must be handed off); stored with the index."""
    if not 0.5 <= precision < 1.0:
        raise typer.BadParameter("must be at least 0.5 and below 1", param_hint="--precision")
    rows = read_labelled(file)
    calibration = with_service(lambda kb: kb.calibrate(rows, target=precision, source=file.name))
    for language, r in calibration.report.items():
        if language != "*" and not r.get("shown", 1.0):
            err_console.print(
                f"[yellow]warning:[/yellow] the {int(r['questions'])} '{language}' questions "
                f"cannot show precision {precision} at any threshold, so questions in "
                f"'{language}' will be handed off; add labelled questions in that language",
                highlight=False,
                soft_wrap=True,
            )
    if as_json:
        print_json({"target": calibration.target, "languages": calibration.report})
        return
    table = Table("language", "questions", "threshold", "precision", "coverage", "OOS answered")
    inherited = [lang for lang, r in calibration.report.items() if r.get("inherited")]
    for language, r in calibration.report.items():
        table.add_row(
            "all"
            if language == "*"
            else language + (" (default)" if language in inherited else ""),
            str(int(r["questions"])),
            f"{r['threshold']:.3f}",
            f"{r['precision']:.3f}",
            f"{r['coverage']:.3f}",
            f"{r['out_of_scope_answered']:.3f}",
        )
    console.print(table)
    for language in inherited:
        console.print(
            f"no question is in '{language}': it keeps the shipped default's model and threshold "
            f"(figures from the demo); add labelled '{language}' questions to calibrate it here",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"calibrated for precision {precision} on {len(rows)} questions; stored")


@app.command("ask")
@handle_errors
def ask(
    text: str = typer.Argument(..., help="The customer's question."),
    lang: str | None = typer.Option(None, "--lang", help="Its language (detected if omitted)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The decision the bot would take, with sources and calibrated confidence."""
    if not text.strip():
        raise typer.BadParameter("the question is empty", param_hint="TEXT")
    lang = check_language(lang)

    async def _ask(kb: KnowledgeService) -> dict[str, Any]:
        await kb.rank(text, lang)  # surfaces index problems as one-line errors
        await kb.check_index()
        return (await kb.answer(text, lang)).to_dict()

    data = with_service(_ask)
    if as_json:
        print_json(data)
        return
    article = data["article"]
    if data["answered"]:
        console.print(
            f"[green]answer[/green] (confidence {data['confidence']:.2f} ≥ "
            f"{data['threshold']:.2f}, {data['language']}) from "
            f"[bold]{escape(article['title'])}[/bold] [dim]{article['slug']}[/dim]",
            highlight=False,
            soft_wrap=True,
        )
        console.print(escape(data["passage"]), highlight=False, soft_wrap=True)
    else:
        console.print(
            f"[yellow]hand off[/yellow] ({data['language']}): {escape(data['reason'])}",
            highlight=False,
            soft_wrap=True,
        )
        if article:
            console.print(
                f"best match: {article['slug']} “{escape(article['title'])}”", soft_wrap=True
            )
    if data["top"]:
        console.print(
            "top: " + ", ".join(f"{t['slug']} {t['score']:.3f}" for t in data["top"]),
            style="dim",
            highlight=False,
            soft_wrap=True,
        )


@app.command("eval")
@handle_errors
def eval_(
    file: Path = typer.Argument(..., help="CSV with question and expected (slug) columns."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    predictions: Path | None = typer.Option(
        None, "--predictions", help="Write one JSON line per question here."
    ),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid, dense, bm25 or rrf."),
) -> None:
    """Measure answers on labelled questions: top-1, recall@5, MRR, coverage, precision of
    answered, out-of-scope answered."""
    if mode not in MODES:
        raise typer.BadParameter(f"must be one of {', '.join(MODES)}", param_hint="--mode")
    rows = read_labelled(file)
    evaluation = with_service(lambda kb: kb.evaluate(rows, mode=MODES[MODES.index(mode)]))
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with predictions.open("w", encoding="utf-8") as handle:
            for prediction in evaluation.predictions:
                handle.write(json.dumps(prediction.to_dict(), ensure_ascii=False) + "\n")
    metrics = evaluation.metrics.to_dict()
    if as_json:
        print_json(metrics)
        return
    table = Table("metric", "all", *metrics["by_language"].keys())
    for key in (
        "questions",
        "in_scope",
        "out_of_scope",
        "top1",
        "recall_at_5",
        "mrr",
        "coverage",
        "precision_answered",
        "out_of_scope_answered",
    ):
        table.add_row(
            key, str(metrics[key]), *(str(m[key]) for m in metrics["by_language"].values())
        )
    console.print(table)


@app.command("gaps")
@handle_errors
def gaps(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    since: str | None = typer.Option(None, "--since", help="Only questions from this date."),
    min_size: int = typer.Option(1, "--min-size", help="Hide smaller clusters."),
    csv_out: Path | None = typer.Option(
        None,
        "--csv",
        help="Also write every question to this CSV, to fill in and give to kb teach --file.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace the --csv file if it exists (labels in it are lost)."
    ),
) -> None:
    """Handed-off and 👎 questions, clustered, largest first, with the nearest article."""
    if min_size < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--min-size")
    if csv_out is not None and csv_out.is_dir():
        fail(f"{csv_out} is a folder, not a file")
    if csv_out is not None and not csv_out.parent.is_dir():
        fail(f"{csv_out.parent}: no such folder")
    if csv_out is not None and csv_out.exists() and not force:
        # It is the file an admin labels by hand: running the command again must not
        # wipe that work.
        fail(
            f"{csv_out} already exists and may hold your labels: name another file, "
            "or add --force to replace it"
        )
    start: datetime | None = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(
                "must be a date like 2026-01-31", param_hint="--since"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    clusters = with_service(lambda kb: kb.gaps(since=start, min_size=min_size))
    if csv_out is not None:
        written = write_gaps_csv(csv_out, clusters)
        err_console.print(
            f"wrote {written} questions in {len(clusters)} groups to {csv_out}: put the slug "
            "of the article that answers each in 'expected' (leave it empty where none does), "
            f"then run relaydesk kb teach --file {csv_out}",
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        print_json([c.to_dict() for c in clusters])
        return
    if not clusters:
        console.print("no knowledge gaps: nothing was handed off or marked unhelpful")
        return
    table = Table("size", "examples", "nearest article")
    for c in clusters:
        nearest = f"{c.nearest_slug} ({c.nearest_similarity:.2f})" if c.nearest_slug else "-"
        table.add_row(str(c.size), "\n".join(c.examples), nearest)
    console.print(table)


def write_gaps_csv(path: Path, clusters: list[Cluster]) -> int:
    """Every question of `clusters` as a row of the labelled-question CSV (`expected` left
    empty for a person to fill in; `nearest` is only a hint); returns how many rows."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "expected", "language", "group", "nearest"])
        for number, found in enumerate(clusters, start=1):
            for question, language in found.questions:
                writer.writerow([question, "", language, number, found.nearest_slug or ""])
                rows += 1
    return rows
