"""PubMed efetch XML (``PubmedArticleSet``), one article at a time, in bounded memory.

The byte stream is cut into articles (``<PubmedArticle>…</PubmedArticle>``, and the
book form) by their tags, and each article is parsed on its own with lxml. So:

- memory holds one article, and an article over the size cap is counted while it is
  skipped, never kept (a 30 MB ``AbstractText`` costs its 64 KiB chunks, not 500 MB of
  tree);
- a malformed article is that record's error, and the articles after it are still read
  (parsing the whole file with ``iterparse`` lost every record once lxml 6 began to
  report an error before the events it had already parsed);
- entities are never expanded and nothing is fetched: a reference to an entity the
  file's DTD declares stays the text "&name;" (an entity bomb is inert).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..document import Document
from ..errors import InputError
from .lines import describe_size, too_large
from .sources import SNIFF_BYTES, detect_encoding

__all__ = ["read_pubmed_xml"]

_CHUNK = 64 * 1024
_ARTICLE_START = re.compile(rb"<(PubmedArticle|PubmedBookArticle)[\s>/]")
_ARTICLE_END = {
    b"PubmedArticle": re.compile(rb"</PubmedArticle\s*>"),
    b"PubmedBookArticle": re.compile(rb"</PubmedBookArticle\s*>"),
}
_LONGEST_END = len(b"</PubmedBookArticle") + 16  # bytes kept while skipping, to find the end
_DECLARED = re.compile(rb"""\A<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_PMID = re.compile(rb"<PMID[^>]*>\s*([^<\s]+)")
# An entity an article cannot define (the file's DTD is not part of it) is kept as the
# text it was, "&name;", as a whole-file parse that does not expand entities kept it.
_UNDEFINED_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")

Item = Document | InputError


def article_cap(limit: int) -> int:
    """The most bytes of XML kept for one article: its abstract's limit, plus room for
    the markup and metadata around it (author lists, references)."""
    return 2 * limit + 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Article:
    position: int
    line: int
    """The line of the file where the article starts."""
    data: bytes
    """The article's bytes; empty when it was over the cap."""
    size: int
    complete: bool
    """False when the file ended inside the article."""
    pmid: str


def read_pubmed_xml(handle: BinaryIO, *, name: str, limit: int) -> Iterator[Item]:
    """Every article of a PubMed XML export as a ``Document`` or an ``InputError``."""
    from lxml import etree  # here, not at the top: ~4 MB that only XML exports need

    chunks, encoding = _utf8_chunks(handle)
    parser = etree.XMLParser(
        encoding=encoding, resolve_entities=False, no_network=True, huge_tree=True
    )
    last_id = ""
    count = 0
    for article in _articles(chunks, article_cap(limit)):
        count = article.position
        record = article.pmid or str(article.position)
        after = f"after record {last_id}" if last_id else "before the first record"
        if not article.complete:
            yield InputError(
                f"malformed XML: the file ends inside this record ({after}, line {article.line})",
                path=name,
                record=record,
            )
            break
        if not article.data:
            yield InputError(
                too_large(article.size, limit)
                + f" (the article's XML is {describe_size(article.size)})",
                path=name,
                record=record,
            )
            last_id = record
            continue
        try:
            element = etree.fromstring(_UNDEFINED_ENTITY.sub(b"&amp;", article.data), parser)
        except etree.XMLSyntaxError as error:
            line = article.line + max((error.lineno or 1) - 1, 0)
            yield InputError(
                f"malformed XML {after} (line {line}): {error.msg}", path=name, record=record
            )
            last_id = record
            continue
        item = _pubmed_article(element, name=name, position=article.position, limit=limit)
        last_id = item.id if isinstance(item, Document) else (item.record or record)
        yield item
    if count == 0:
        yield InputError("no PubmedArticle records in this XML file", path=name)


def _utf8_chunks(handle: BinaryIO) -> tuple[Iterator[bytes], str]:
    """The file's bytes in chunks, and the encoding the articles are parsed with: bytes
    as they are for ASCII-compatible encodings (the declared one), UTF-8 for UTF-16/32
    (transcoded here, since the tags are found by their ASCII bytes)."""
    head = handle.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(handle, "peek") else b""
    encoding = detect_encoding(head) if head else "utf-8"
    if encoding.startswith(("utf-16", "utf-32")):
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

        def transcoded() -> Iterator[bytes]:
            while chunk := handle.read(_CHUNK):
                yield decoder.decode(chunk).encode("utf-8")
            yield decoder.decode(b"", final=True).encode("utf-8")

        return transcoded(), "utf-8"
    declared = _DECLARED.match(head.lstrip(b"\xef\xbb\xbf \t\r\n"))
    chosen = declared[1].decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(chosen)
    except LookupError:
        chosen = "utf-8"

    def plain() -> Iterator[bytes]:
        while chunk := handle.read(_CHUNK):
            yield chunk

    return plain(), chosen


class _Scanner:
    """A byte buffer over the chunks, with the file's line number at its start."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = b""
        self.line = 1

    def more(self) -> bool:
        chunk = next(self.chunks, b"")
        self.buffer += chunk
        return bool(chunk)

    def drop(self, count: int) -> None:
        self.line += self.buffer.count(b"\n", 0, count)
        self.buffer = self.buffer[count:]


def _articles(chunks: Iterator[bytes], cap: int) -> Iterator[_Article]:
    """The articles in the byte stream, in order; one over ``cap`` bytes is skipped and
    only counted."""
    scan = _Scanner(chunks)
    position = 0
    while True:
        start = _ARTICLE_START.search(scan.buffer)
        if start is None:
            scan.drop(max(len(scan.buffer) - _LONGEST_END, 0))  # a cut tag may end the buffer
            if not scan.more():
                return
            continue
        scan.drop(start.start())
        position += 1
        line = scan.line
        end_tag = _ARTICLE_END[start[1]]
        skipped = 0  # bytes of an article over the cap, dropped as they are read
        pmid = ""
        searched = 0
        while True:
            end = end_tag.search(scan.buffer, max(searched - _LONGEST_END, 0))
            if end is not None:
                if skipped:
                    yield _Article(position, line, b"", skipped + end.end(), True, pmid)
                else:
                    data = scan.buffer[: end.end()]
                    yield _Article(position, line, data, len(data), True, _pmid(data))
                scan.drop(end.end())
                break
            if skipped or len(scan.buffer) > cap:
                pmid = pmid or _pmid(scan.buffer[:SNIFF_BYTES])
                keep = min(_LONGEST_END, len(scan.buffer))
                skipped += len(scan.buffer) - keep
                scan.drop(len(scan.buffer) - keep)
            searched = len(scan.buffer)
            if not scan.more():
                size = skipped + len(scan.buffer)
                pmid = pmid or _pmid(scan.buffer[:SNIFF_BYTES])
                yield _Article(position, line, b"", size, False, pmid)
                return


def _pmid(data: bytes) -> str:
    found = _PMID.search(data)
    return found[1].decode("ascii", errors="replace") if found else ""


def _pubmed_article(element: Any, *, name: str, position: int, limit: int) -> Item:
    from .exports import record_item

    pmid_element = element.find(".//PMID")
    pmid = (pmid_element.text or "").strip() if pmid_element is not None else ""
    record_id = pmid or str(position)
    title_element = element.find(".//ArticleTitle")
    if title_element is None:
        title_element = element.find(".//BookTitle")
    title = _all_text(title_element) if title_element is not None else ""
    parts: list[str] = []
    abstract_element = element.find(".//Abstract")
    if abstract_element is not None:
        for text_element in abstract_element.iterfind("AbstractText"):
            body = _all_text(text_element)
            if not body:
                continue
            label = text_element.get("Label")
            parts.append(f"{label}: {body}" if label else body)
    metadata: dict[str, str] = {}
    journal = element.find(".//Journal/Title")
    if journal is not None and journal.text:
        metadata["journal"] = journal.text.strip()
    for article_id in element.iterfind(".//ArticleIdList/ArticleId"):
        kind = article_id.get("IdType")
        if kind in ("doi", "pmc") and article_id.text:
            metadata[kind] = article_id.text.strip()
    if pmid:
        metadata["pmid"] = pmid
    authors = [_author_name(author) for author in element.iterfind(".//AuthorList/Author")]
    if any(authors):
        metadata["authors"] = "; ".join(name for name in authors if name)
    year = element.find(".//PubDate/Year")
    if year is None:
        year = element.find(".//PubDate/MedlineDate")
    if year is not None and year.text:
        metadata["year"] = year.text.strip()
    return record_item(
        record_id=record_id,
        title=title,
        abstract="\n\n".join(parts),
        origin=name,
        fmt="pubmed-xml",
        metadata=metadata,
        limit=limit,
    )


def _all_text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _author_name(author: Any) -> str:
    collective = str(author.findtext("CollectiveName") or "").strip()
    if collective:
        return collective
    last, initials = author.findtext("LastName") or "", author.findtext("Initials") or ""
    return f"{last.strip()} {initials.strip()}".strip()
