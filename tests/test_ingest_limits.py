"""Inputs are bounded: a record over the per-record limit is an error of its own, whatever
its size, the records around it are kept, and reading it takes no more memory than the
limit (files generated in tmp, never committed)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from summarizer import InputError, Settings, Summarizer
from summarizer.document import Document
from summarizer.ingest import iter_documents
from summarizer.options import MAX_RECORD_BYTES, RunOptions
from tests.conftest import batch_case_text, closed_after_test, env_without_keys

LIMIT = 20_000
BIG = "x" * (LIMIT * 3)
ABSTRACT = "A 40-year-old woman presented with chest pain. She improved."


def read(path: Path, limit: int = LIMIT) -> list[Document | InputError]:
    return list(iter_documents([path], RunOptions(max_record_bytes=limit)))


def shape(found: list[Document | InputError]) -> list[str]:
    return [item.id if isinstance(item, Document) else "ERROR" for item in found]


def jsonl(big: str, *, newline: bool = True) -> str:
    lines = [
        json.dumps({"id": "a", "abstract": ABSTRACT}),
        json.dumps({"id": "big", "abstract": big}),
        json.dumps({"id": "c", "abstract": ABSTRACT}),
    ]
    return "\n".join(lines) + ("\n" if newline else "")


def csv_text(big: str) -> str:
    return f'id,abstract\na,"{ABSTRACT}"\nbig,"{big}"\nc,"{ABSTRACT}"\n'


def ris(big: str) -> str:
    record = "TY  - JOUR\nID  - {id}\nAB  - {abstract}\nER  - \n\n"
    return (
        record.format(id="a", abstract=ABSTRACT)
        + record.format(id="big", abstract=big)
        + record.format(id="c", abstract=ABSTRACT)
    )


def medline(big: str) -> str:
    record = "PMID- {id}\nTI  - A title\nAB  - {abstract}\n\n"
    return (
        record.format(id="1", abstract=ABSTRACT)
        + record.format(id="2", abstract=big)
        + record.format(id="3", abstract=ABSTRACT)
    )


XML_ARTICLE = (
    "<PubmedArticle><MedlineCitation><PMID>{id}</PMID><Article><ArticleTitle>T</ArticleTitle>"
    "<Abstract><AbstractText>{abstract}</AbstractText></Abstract></Article></MedlineCitation>"
    "</PubmedArticle>\n"
)


def pubmed_xml(big: str) -> str:
    articles = (XML_ARTICLE.format(id=n, abstract=text) for n, text in ((1, ABSTRACT), (2, big)))
    return f"<PubmedArticleSet>\n{''.join(articles)}{XML_ARTICLE.format(id=3, abstract=ABSTRACT)}</PubmedArticleSet>\n"


WRITERS: dict[str, tuple[str, Callable[[str], str], list[str]]] = {
    # kind: (file name, writer, ids read: the middle record is the big one)
    "jsonl": ("in.jsonl", jsonl, ["a", "big", "c"]),
    "csv": ("in.csv", csv_text, ["a", "big", "c"]),
    "ris": ("in.ris", ris, ["a", "big", "c"]),
    "medline": ("in.nbib", medline, ["1", "2", "3"]),
    "xml": ("in.xml", pubmed_xml, ["1", "2", "3"]),
}


@pytest.mark.parametrize("kind", WRITERS)
def test_a_record_over_the_limit_is_an_error_and_its_neighbours_are_kept(
    kind: str, tmp_path: Path
) -> None:
    name, write, ids = WRITERS[kind]
    path = tmp_path / name
    path.write_text(write(BIG))
    found = read(path)
    assert shape(found) == [ids[0], "ERROR", ids[2]]
    error = found[1]
    assert isinstance(error, InputError) and "limit" in str(error)
    assert "--max-record-bytes" in str(error)
    assert shape(read(path, limit=LIMIT * 4)) == ids


@pytest.mark.parametrize("kind", ["csv", "ris", "medline"])
def test_a_big_record_made_of_many_short_lines_is_bounded_too(kind: str, tmp_path: Path) -> None:
    name, write, ids = WRITERS[kind]
    # a quoted CSV field, a RIS or MEDLINE abstract continued over many lines
    big = "\n      ".join(["many short lines of an abstract"] * 3000)
    path = tmp_path / name
    path.write_text(write(big))
    assert shape(read(path)) == [ids[0], "ERROR", ids[2]]


def test_an_unterminated_last_line_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(jsonl(BIG)[: -len(json.dumps({"id": "c", "abstract": ABSTRACT})) - 1])
    with path.open("a") as handle:
        handle.write(json.dumps({"id": "d", "abstract": BIG}))  # no newline at the end
    assert shape(read(path)) == ["a", "ERROR", "ERROR"]


def test_an_unterminated_csv_quote_is_one_error_and_the_rows_after_it_are_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.csv"
    lines = [f'a,"{ABSTRACT}"', 'broken,"an opening quote that never closes']
    lines += [f"row{n},{ABSTRACT}" for n in range(2000)]
    path.write_text("id,abstract\n" + "\n".join(lines) + "\n")
    found = read(path)
    assert shape(found) == ["a", "ERROR", *(f"row{n}" for n in range(2000))]
    assert "row 2" in str(found[1]) and "(line 3)" in str(found[1]) and "quote" in str(found[1])


def test_pubmed_xml_abstract_over_the_limit(tmp_path: Path) -> None:
    article = (
        "<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article>"
        "<ArticleTitle>T</ArticleTitle><Abstract><AbstractText>{text}</AbstractText>"
        "</Abstract></Article></MedlineCitation></PubmedArticle>"
    )
    body = "".join(
        article.format(pmid=pmid, text=text)
        for pmid, text in (("1", ABSTRACT), ("2", BIG), ("3", ABSTRACT))
    )
    path = tmp_path / "in.xml"
    path.write_text(f"<PubmedArticleSet>{body}</PubmedArticleSet>")
    assert shape(read(path)) == ["1", "ERROR", "3"]


def test_pages_text_under_the_record_limit_html_under_the_page_limit(tmp_path: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text(ABSTRACT + " " + BIG)
    assert shape(read(text)) == ["ERROR"]
    html = tmp_path / "page.html"
    html.write_text(f"<html><body><p>{ABSTRACT}</p><!-- {BIG} --></body></html>")
    assert shape(read(html)) == ["page"]  # markup is not text: HTML gets the page limit


def test_library_option_bounds_text_and_documents() -> None:
    options = RunOptions(max_record_bytes=LIMIT)
    summarizer = closed_after_test(Summarizer(Settings(backend="rules"), options))
    with pytest.raises(InputError, match="limit"):
        summarizer.summarize(batch_case_text(1) + " " + BIG)
    document = Document(id="d", text=BIG, origin="<memory>", format="jsonl")
    [failure] = list(summarizer.summarize_many([document]))
    assert "limit" in str(getattr(failure, "error", ""))
    assert closed_after_test(Summarizer(Settings(backend="rules"))).summarize(batch_case_text(1))
    assert RunOptions().max_record_bytes == MAX_RECORD_BYTES == 2 * 1024 * 1024


def test_cli_max_record_bytes_on_summarize_and_clean(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id": f"r{n}", "abstract": batch_case_text(n) + (BIG if n == 1 else "")})
            for n in range(3)
        )
        + "\n"
    )
    cli = [sys.executable, "-m", "summarizer.cli"]
    env = env_without_keys()
    out = tmp_path / "out.jsonl"
    limit = str(LIMIT)
    done = subprocess.run(
        [*cli, "summarize", str(path), "-o", str(out), "--max-record-bytes", limit],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert set(lines) == {"r0", "line 2", "r2"} and "error" in lines["line 2"]
    assert "limit" in done.stderr and "Traceback" not in done.stderr
    raised = subprocess.run(
        [*cli, "summarize", str(path), "--max-record-bytes", str(LIMIT * 4)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert raised.returncode == 0, raised.stderr
    cleaned = subprocess.run(
        [*cli, "clean", str(path), "--json", "--no-offsets", "--max-record-bytes", limit],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert cleaned.returncode == 1 and len(cleaned.stdout.splitlines()) == 2, cleaned.stderr
    for command in ("summarize", "clean"):
        help_text = subprocess.run(
            [*cli, command, "--help"], capture_output=True, text=True, env=env, timeout=60
        )
        assert "--max-record-bytes" in help_text.stdout


# --- memory stays flat --------------------------------------------------------------------------

HUGE_MB = 64
CHUNK = "y" * (1024 * 1024)

MEASURE = r"""
import json, resource, sys
from summarizer.ingest import iter_documents
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kinds = [type(item).__name__ for item in iter_documents([sys.argv[1]])]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "items": kinds}))
"""


def _huge(path: Path, head: str, tail: str, *, continuation: str = "") -> None:
    """``head``, HUGE_MB of one field (one line, or lines joined by ``continuation``), ``tail``."""
    with path.open("w") as handle:
        handle.write(head)
        for _ in range(HUGE_MB):
            if continuation:
                handle.write(continuation.join(CHUNK[i : i + 80] for i in range(0, len(CHUNK), 80)))
                handle.write(continuation)
            else:
                handle.write(CHUNK)
        handle.write(tail)


HUGE: dict[str, tuple[str, str, str, str]] = {
    # name: (file, head, tail, continuation)
    "jsonl": ("h.jsonl", '{"id": "a", "abstract": "', "", ""),  # unterminated, no newline
    "csv": ("h.csv", 'id,abstract\na,"', "", ""),
    "ris": ("h.ris", "TY  - JOUR\nAB  - ", "", ""),
    "medline": ("h.nbib", "PMID- 1\nAB  - ", "\n", "\n      "),
    "xml": (
        "h.xml",
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><Abstract>"
        "<AbstractText>",
        "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>",
        "",
    ),
}


@pytest.mark.parametrize("kind", HUGE)
def test_memory_stays_flat_on_a_huge_record(kind: str, tmp_path: Path) -> None:
    name, head, tail, continuation = HUGE[kind]
    path = tmp_path / name
    _huge(path, head, tail, continuation=continuation)
    assert path.stat().st_size > HUGE_MB * 1024 * 1024
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    print(kind, measured)
    assert measured["items"] == ["InputError"]
    # the limit (2 MB) plus buffers; reading the record whole would take over 2 x 64 MB
    assert measured["grew_mb"] < 24, measured
