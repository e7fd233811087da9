"""Benchmark and measure the cleaner.

    .venv/bin/python bench/clean.py              # speed: pages per second (median of runs)
    .venv/bin/python bench/clean.py --measure    # corpus: errors, leaks, losses, sections
    .venv/bin/python bench/clean.py --digest     # output: one hash of every clean() result
    valgrind --tool=callgrind .venv/bin/python bench/clean.py --passes 5 --row dev

Speed: ``clean()`` on the E3C case texts (as plain-text pages) and on ~16 KB synthetic
full-article pages (text and HTML) built from the in-house fixtures, one core, median of
``--runs`` repetitions.

Measurement: every record of the three corpus files in ../shared/corpus is cleaned
(1) as an export record (JSONL, what ``iter_documents`` yields) and (2) wrapped in the
chrome of each in-house page fixture (reading app, PubMed, PMC, publisher, BMC, SciELO,
Europe PMC, saved HTML), with its newlines kept and collapsed into spaces. The corpus
text replaces the fixture's abstract (split at sentence ends over the fixture's labelled
sections) and, where the record has one, its title; the cleaned output must then give
back exactly that title and that text. Compared after NFKC, case folding and dropping
everything but letters and digits, so typographic repairs do not count as differences.
A cleaned text longer than expected is a *leak* (chrome or body text got in), shorter
is a *loss*, anything else a *mismatch*. No corpus text is written anywhere.

Digest: a sha256 of every ``clean()`` result (text, offsets, sections, title, warnings,
confidence, or the error) for each input set: the real dev pages, the page fixtures and the
real-layout fixtures (each as it is and in four variants), every corpus record as an export
record and as a plain text, the real PDFs, and every tenth corpus record filled into each
page template (``--every 1``: every record). A change meant to keep the output must keep every
line. ``--digest-out FILE`` also writes each input's hash, to find the inputs that changed.

Passes: ``--passes N --row ROW`` cleans one row's documents once to warm up, then N times,
and prints nothing: run it under ``valgrind --tool=callgrind`` with N and with 0 and divide
the difference in instructions by N times the row's size (a count that the machine's load
does not move).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.clean import clean  # noqa: E402
from summarizer.document import Document  # noqa: E402
from summarizer.errors import InputError  # noqa: E402
from summarizer.ingest import iter_documents  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "pages"
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_FILES = ("e3c-case-texts.jsonl", "bc5cdr-case-like.jsonl", "pmc-patient-notes-dev.jsonl")
SKIP_TEMPLATES = {"journal-home", "mojibake-unicode"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_LABELLED = re.compile(r"(?:^|[.!?]\s)[A-Z][A-Za-z ]{2,40}(?:\(S\))?:\s")
_LEADING_LABEL = re.compile(r"^\s*Abstract\b[:.]?\s*")
_WORD = re.compile(r"[^\w]+|_")


def key(text: str) -> str:
    return _WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


# --- templates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    name: str
    fmt: str
    page: str
    title: str
    sections: list[tuple[str, str | None, str]]
    spans: list[tuple[int, int]]
    """Where each expected section body sits in ``page``."""


def load_templates() -> list[Template]:
    templates = []
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".txt", ".html") or path.stem in SKIP_TEMPLATES:
            continue
        expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
        page = path.read_text(encoding="utf-8")
        fmt = "html" if path.suffix == ".html" else "text"
        spans = []
        title_at = page.find(expected["title"]) if fmt == "text" else page.find("<body")
        position = max(title_at, 0) + (
            len(expected["title"]) if fmt == "text" and title_at >= 0 else 0
        )
        for _kind, _heading, body in expected["sections"]:
            raw = _locate(page, body, position, fmt)
            if raw is None:
                break
            spans.append(raw)
            position = raw[1]
        if len(spans) != len(expected["sections"]):
            print(f"template {path.name}: cannot locate its sections, skipped", file=sys.stderr)
            continue
        sections = [(k, h, b) for k, h, b in expected["sections"]]
        templates.append(Template(path.stem, fmt, page, expected["title"], sections, spans))
    return templates


def _locate(page: str, body: str, start: int, fmt: str) -> tuple[int, int] | None:
    """The raw span of an expected body: from its first to its last words."""
    words = body.split()
    head, tail = " ".join(words[:6]), " ".join(words[-2:])
    first = page.find(head, start)
    if first < 0:
        return None
    last = page.find(tail, first)
    if last < 0:
        return None
    return first, last + len(tail)


def fill(template: Template, title: str | None, text: str) -> tuple[str, str, str] | None:
    """(page, expected title, expected flat body) with the corpus text in the template."""
    count = len(template.sections)
    sentences = _SENTENCE.split(text.strip())
    if len(sentences) < count:
        return None
    chunks = (
        [
            " ".join(sentences[i * len(sentences) // count : (i + 1) * len(sentences) // count])
            for i in range(count)
        ]
        if count > 1
        else [text.strip()]
    )
    escape = html.escape if template.fmt == "html" else (lambda value: value)
    page = template.page
    for (start, end), chunk in reversed(list(zip(template.spans, chunks, strict=True))):
        page = page[:start] + escape(chunk) + page[end:]
    expected_title = template.title
    if title:
        page = page.replace(template.title, escape(title))
        if template.fmt == "html":
            page = page.replace(html.escape(template.title), escape(title))
        expected_title = title
    flat = " ".join(
        f"{heading} {chunk}" if heading else chunk
        for (_k, heading, _b), chunk in zip(template.sections, chunks, strict=True)
    )
    return page, expected_title, flat


# --- corpus ----------------------------------------------------------------------------------------


def corpus_records(name: str) -> Iterator[tuple[str, str | None, str]]:
    with (CORPUS / name).open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = record.get("abstract") or record.get("text") or ""
            text = _LEADING_LABEL.sub("", text)  # a few records start with the word "Abstract"
            yield str(record.get("pmid") or record["id"]), record.get("title"), text


def measure(limit: int | None) -> None:
    templates = load_templates()
    print(f"templates: {len(templates)} ({', '.join(t.name for t in templates)})\n")
    print("| corpus | records | export: cleaned | export: exact text | sections > 1 |")
    print("|---|---:|---:|---:|---:|")
    for name in CORPUS_FILES:
        total = ok = exact = multi = 0
        for index, item in enumerate(iter_documents([CORPUS / name])):
            if limit and index >= limit:
                break
            total += 1
            if isinstance(item, InputError):
                continue
            try:
                abstract = clean(item)
            except InputError:
                continue
            ok += 1
            multi += len(abstract.sections) > 1
            exact += key(abstract.body) == key(item.text)
        print(
            f"| {name} | {total} | {ok} ({pct(ok, total)}) | {pct(exact, total)} | {pct(multi, total)} |"
        )
    print()
    print("| corpus | pages | error | title wrong | leak | loss | mismatch | exact |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for name in CORPUS_FILES:
        counts: Counter[str] = Counter()
        for index, (record_id, title, text) in enumerate(corpus_records(name)):
            if limit and index >= limit:
                break
            labelled = _LABELLED.search(text) is not None
            for template in templates:
                # a labelled corpus abstract goes into unlabelled templates only (no nesting)
                filled = (
                    None if labelled and len(template.sections) > 1 else fill(template, title, text)
                )
                if filled is None:
                    filled = fill(_unstructured(templates), title, text)
                    if filled is None:
                        continue
                page, expected_title, flat = filled
                for collapsed in (False, True):
                    source = " ".join(page.split()) if collapsed else page
                    outcome = _outcome(source, template.fmt, expected_title, flat)
                    counts["pages"] += 1
                    counts[outcome] += 1
                    if outcome != "exact":
                        label = f"{template.name}{' (collapsed)' if collapsed else ''}: {outcome}"
                        failures[label] += 1
                        examples.setdefault(label, record_id)
        pages = counts["pages"]
        print(
            f"| {name} | {pages} | {pct(counts['error'], pages)} | {pct(counts['title'], pages)}"
            f" | {pct(counts['leak'], pages)} | {pct(counts['loss'], pages)}"
            f" | {pct(counts['mismatch'], pages)} | {pct(counts['exact'], pages)} |"
        )
    print("\nmost frequent failures (template: outcome, count, example record id):")
    for label, count in failures.most_common(15):
        print(f"  {label}: {count} (e.g. {examples[label]})")


def _unstructured(templates: list[Template]) -> Template:
    return next(t for t in templates if len(t.sections) == 1 and t.fmt == "text")


def _outcome(page: str, fmt: str, expected_title: str, flat: str) -> str:
    try:
        abstract = clean(Document("bench", page, "bench", fmt))
    except InputError:
        return "error"
    got, want = key(abstract.body), key(flat)
    if got != want:
        if want in got:
            return "leak"
        if got in want:
            return "loss"
        return "mismatch"
    if key(abstract.title or "") != key(expected_title):
        return "title"
    return "exact"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


# --- speed -----------------------------------------------------------------------------------------


def full_article_pages(count: int) -> list[tuple[str, str]]:
    """~16 KB full-article pages (text and HTML) from the PMC and BMC fixtures, bodies padded
    with the fixtures' own (invented) paragraphs."""
    text_page = (FIXTURES / "pmc-fulltext.txt").read_text()
    html_page = (FIXTURES / "bmc-saved.html").read_text()
    filler = [
        p.strip()
        for path in sorted(FIXTURES.glob("*.expected.json"))
        for _k, _h, p in json.loads(path.read_text()).get("sections", [])
    ]
    pages: list[tuple[str, str]] = []
    for number in range(count):
        body, size = [], 0
        index = number
        while size < 14_000:
            paragraph = filler[index % len(filler)]
            body.append(paragraph)
            size += len(paragraph) + 1
            index += 1
        marker = "Acknowledgements"
        text = text_page.replace(marker, "\n".join(body) + "\n" + marker, 1)
        pages.append(("text", text))
        extra = "".join(f"<p>{html.escape(p)}</p>" for p in body)
        pages.append(("html", html_page.replace("</article>", extra + "</article>", 1)))
    return pages


SEED = ROOT.parent / "shared" / "seed" / "leiomyosarcoma-cervical-spine.txt"
REAL_PAGES = CORPUS / "real-pages-dev.jsonl"
SHAPES = ROOT / "tests" / "fixtures" / "real-shapes"


def dev_pages() -> list[Document]:
    pages = [json.loads(line) for line in REAL_PAGES.read_text().splitlines()]
    return [Document(p["id"], p["page"], "dev", "text") for p in pages]


def shape_pages() -> list[Document]:
    paths = sorted(SHAPES.glob("*.txt"))
    return [Document(path.stem, path.read_text(), "shape", "text") for path in paths]


def e3c_texts() -> list[Document]:
    return [Document(i, t, "e3c", "text") for i, _title, t in corpus_records(CORPUS_FILES[0])]


def speed_rows() -> dict[str, tuple[str, Callable[[], list[Document]]]]:
    """The rows of the speed table by short name: (label, what builds its documents)."""

    def article_pages(kind: str) -> list[Document]:
        articles = full_article_pages(200)
        return [Document(str(i), p, "bench", f) for i, (f, p) in enumerate(articles) if f == kind]

    rows: dict[str, tuple[str, Callable[[], list[Document]]]] = {}
    if REAL_PAGES.exists():
        rows["dev"] = ("real dev pages, newlines lost (../shared, x20)", lambda: dev_pages() * 20)
    rows["shapes"] = (
        "real-layout pages (tests/fixtures/real-shapes, x20)",
        lambda: shape_pages() * 20,
    )
    if (CORPUS / CORPUS_FILES[0]).exists():
        rows["e3c"] = ("E3C case texts (plain text)", e3c_texts)
    if SEED.exists():
        rows["seed"] = (
            "seed page (reading app)",
            lambda: [Document("seed", SEED.read_text(), "seed", "text")] * 2000,
        )
    rows["text"] = ("full-article page, text (~16 KB)", lambda: article_pages("text"))
    rows["html"] = ("full-article page, HTML (~16 KB)", lambda: article_pages("html"))
    return rows


def clean_all(documents: list[Document]) -> None:
    for document in documents:
        with contextlib.suppress(InputError):
            clean(document)


def passes(row: str, count: int, limit: int | None) -> None:
    """Clean one row's documents (the first ``limit``) once (regexes compiled, caches filled),
    then ``count`` times: what a run under callgrind with ``count`` does more than one with 0
    is the cleaning."""
    _label, build = speed_rows()[row]
    documents = build()
    if row in ("dev", "shapes"):
        documents = documents[: len(documents) // 20]  # each page once a pass
    documents = documents[:limit]
    clean_all(documents)
    for _ in range(count):
        clean_all(documents)


def speed(runs: int) -> None:
    """Each row's pages are built just before it is timed and dropped after, so the timing
    is clean()'s own (not the garbage collector walking the other rows' 9,000 documents)."""
    rows = list(speed_rows().values())
    print(f"clean() speed, CPU time of this process (one core), median of {runs} runs")
    print("| pages | count | mean size | pages/s | ms/page |")
    print("|---|---:|---:|---:|---:|")
    for label, build in rows:
        documents = build()
        clean_all(documents[:50])
        timings = []
        for _ in range(runs):
            start = time.process_time()  # CPU time: other processes on the machine do not count
            clean_all(documents)
            timings.append(time.process_time() - start)
        seconds = statistics.median(timings)
        size = sum(len(d.text) for d in documents) / len(documents)
        print(
            f"| {label} | {len(documents)} | {size / 1024:.1f} KB | {len(documents) / seconds:,.0f}"
            f" | {1000 * seconds / len(documents):.2f} |"
        )
        del documents


# --- digest ---------------------------------------------------------------------------------------


def variants(text: str) -> Iterator[tuple[str, str]]:
    """A page as it is and as it is often met: newlines lost, CR LF line ends, typographic
    spaces and dashes, cut short."""
    yield "", text
    yield " (collapsed)", " ".join(text.split("\n"))
    yield " (crlf)", text.replace("\n", "\r\n")
    yield " (typographic)", text.replace(". ", ".\u00a0").replace(" - ", " \u2013 ")
    yield " (cut)", text[: len(text) * 3 // 5]


def result_hash(document: Document) -> str:
    """sha256 of everything ``clean(document)`` returns, or of the error it raises."""
    digest = hashlib.sha256()
    try:
        abstract = clean(document)
    except InputError as error:
        digest.update(f"error {error}".encode())
        return digest.hexdigest()
    digest.update(
        repr(
            (
                abstract.title,
                abstract.text,
                abstract.sections,
                abstract.body_start,
                abstract.warnings,
                abstract.confidence,
                abstract.pages,
            )
        ).encode("utf-8", "surrogatepass")
    )
    digest.update(repr(abstract.offsets.as_list()).encode())
    return digest.hexdigest()


def digest_sets(every: int) -> Iterator[tuple[str, Iterator[tuple[str, Document]]]]:
    """(set name, its (input name, document) pairs), in a fixed order."""

    def pages(documents: list[Document]) -> Iterator[tuple[str, Document]]:
        for document in documents:
            for suffix, text in variants(document.text):
                yield document.id + suffix, replace(document, text=text)

    if REAL_PAGES.exists():
        yield "real dev pages", pages(dev_pages())
    fixtures = [
        Document(path.name, path.read_text(encoding="utf-8"), "fixture", path.suffix[1:])
        for path in sorted(FIXTURES.iterdir())
        if path.suffix in (".txt", ".html")
    ]
    yield "page fixtures", pages(fixtures)
    yield "real-layout fixtures", pages(shape_pages())
    for name in CORPUS_FILES:
        if not (CORPUS / name).exists():
            continue
        exports = (
            (f"{index}", item)
            for index, item in enumerate(iter_documents([CORPUS / name]))
            if isinstance(item, Document)
        )
        yield f"{name}, export records", exports
        plain = (
            (record_id, Document(record_id, text, name, "text"))
            for record_id, _title, text in corpus_records(name)
        )
        yield f"{name}, plain texts", plain
    pdfs = sorted((CORPUS / "pdfs").glob("*.pdf"))
    if pdfs:
        documents = ((item.id, item) for item in iter_documents(pdfs) if isinstance(item, Document))
        yield "real PDFs", documents
    if all((CORPUS / name).exists() for name in CORPUS_FILES):
        label = "every corpus record" if every == 1 else f"every {every}th corpus record"
        yield f"{label} in each page template", template_pages(every)


def template_pages(every: int) -> Iterator[tuple[str, Document]]:
    """Corpus records filled into the page templates, as ``--measure`` builds them."""
    templates = load_templates()
    for name in CORPUS_FILES:
        for index, (record_id, title, text) in enumerate(corpus_records(name)):
            if index % every:
                continue
            labelled = _LABELLED.search(text) is not None
            for template in templates:
                filled = (
                    None if labelled and len(template.sections) > 1 else fill(template, title, text)
                )
                if filled is None:
                    continue
                page = filled[0]
                for suffix, source in (("", page), (" (collapsed)", " ".join(page.split()))):
                    key = f"{record_id} in {template.name}{suffix}"
                    yield key, Document(key, source, "bench", template.fmt)


def digest(out: Path | None, every: int) -> None:
    hashes: dict[str, str] = {}
    total = hashlib.sha256()
    print("| inputs | count | sha256 of their results |")
    print("|---|---:|---|")
    for label, inputs in digest_sets(every):
        combined = hashlib.sha256()
        count = 0
        for name, document in inputs:
            value = result_hash(document)
            hashes[f"{label}: {name}"] = value
            combined.update(value.encode())
            count += 1
        total.update(combined.digest())
        print(f"| {label} | {count:,} | {combined.hexdigest()[:16]} |")
    print(f"| all | {len(hashes):,} | {total.hexdigest()[:16]} |")
    if out is not None:
        out.write_text(json.dumps(hashes, indent=0, sort_keys=True) + "\n")


def libraries(runs: int) -> None:
    """HTML to text with each candidate library on the HTML fixtures: does the abstract
    survive whole, do its headings stay on their own lines, how fast is it on ~16 KB pages.
    Libraries that are not installed are skipped (only selectolax and lxml are dependencies)."""
    import importlib.util

    from summarizer.clean.html import html_to_text

    def with_selectolax(raw: str) -> str:
        return html_to_text(raw).text

    def selectolax_plain(raw: str) -> str:
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(raw)
        for node in tree.css("script, style, nav, footer, button"):
            node.decompose()
        return (tree.body.text(separator="\n") if tree.body else "") or ""

    def with_lxml(raw: str) -> str:
        import lxml.html

        root = lxml.html.fromstring(raw)
        for node in root.xpath("//script|//style|//nav|//footer|//button"):
            node.drop_tree()
        return "\n".join(root.itertext())

    candidates = [
        ("selectolax walk (ours)", with_selectolax),
        ("selectolax .text()", selectolax_plain),
    ]
    candidates.append(("lxml itertext", with_lxml))
    if importlib.util.find_spec("trafilatura"):
        import trafilatura

        def with_trafilatura(raw: str) -> str:
            return trafilatura.extract(raw, include_comments=False, favor_recall=True) or ""

        candidates.append(("trafilatura.extract", with_trafilatura))
    if importlib.util.find_spec("justext"):
        import justext

        def with_justext(raw: str) -> str:
            paragraphs = justext.justext(raw.encode(), justext.get_stoplist("English"))
            return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)

        candidates.append(("justext", with_justext))
    pages = sorted(p for p in FIXTURES.glob("*.html") if p.stem not in SKIP_TEMPLATES)
    big = [page for fmt, page in full_article_pages(50) if fmt == "html"]
    print(
        "| library | abstract kept | each paragraph on one line | chrome/body left in | offsets | ms/page |"
    )
    print("|---|---:|---:|---:|---|---:|")
    for name, function in candidates:
        whole = headed = noisy = 0
        for path in pages:
            expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
            text = function(path.read_text(encoding="utf-8"))
            flat = key(text)
            whole += all(key(body) in flat for _k, _h, body in expected["sections"])
            lines = [" ".join(line.split()) for line in text.splitlines()]
            headed += all(
                any(body in line for line in lines) for _k, _h, body in expected["sections"]
            )
            noisy += any(
                marker in text for marker in ("must be dropped", "Similar", "Accesses", "ELIXIR")
            )
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            for raw in big:
                function(raw)
            timings.append((time.perf_counter() - start) / len(big))
        offsets = "yes" if name.startswith("selectolax walk") else "no"
        print(
            f"| {name} | {whole}/{len(pages)} | {headed}/{len(pages)} | {noisy}/{len(pages)}"
            f" | {offsets} | {1000 * statistics.median(timings):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--measure", action="store_true", help="corpus measurement instead of speed"
    )
    parser.add_argument("--libraries", action="store_true", help="compare HTML-to-text libraries")
    parser.add_argument(
        "--digest", action="store_true", help="a hash of every clean() result, per input set"
    )
    parser.add_argument("--digest-out", type=Path, help="also write each input's hash here")
    parser.add_argument(
        "--every", type=int, default=10, help="corpus records in templates (digest)"
    )
    parser.add_argument(
        "--passes", type=int, help="clean --row's documents this many times (for callgrind)"
    )
    parser.add_argument("--row", default="dev", help="dev, shapes, e3c, seed, text or html")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="records per corpus file (measure), documents (passes)",
    )
    arguments = parser.parse_args()
    if arguments.measure:
        measure(arguments.limit)
    elif arguments.digest or arguments.digest_out:
        digest(arguments.digest_out, arguments.every)
    elif arguments.passes is not None:
        passes(arguments.row, arguments.passes, arguments.limit)
    elif arguments.libraries:
        libraries(arguments.runs)
    else:
        speed(arguments.runs)


if __name__ == "__main__":
    main()
