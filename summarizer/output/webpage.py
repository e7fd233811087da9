"""HTML: a self-contained page showing the cleaned abstract with every evidence span
highlighted and linked to and from its field in a side panel.

Overlapping and nested spans are split into flat segments (``highlight.segment``), so
the markup is always well formed. Everything from the record or the abstract is
escaped by Jinja's autoescape; the page loads nothing and runs no script (its
Content-Security-Policy forbids both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from ..document import Abstract
from ..ground import AlignmentStatus
from ..results import Failure, Result
from .card import Card, ErrorCard, EvidenceView, build_card, build_error_card, path_anchor
from .highlight import segment
from .templating import environment

HEAD = "html/head.html.j2"
RECORD = "html/record.html.j2"
FOOT = "html/foot.html.j2"

_STATUS_ORDER = list(AlignmentStatus)


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of the abstract: plain, or a highlight covered by one or more evidence spans."""

    text: str
    layer: str | None = None
    mark_id: str | None = None
    anchors: tuple[str, ...] = ()
    classes: str = ""
    href: str | None = None
    title: str = ""
    evidence: str = ""

    @property
    def marked(self) -> bool:
        return bool(self.classes)


@dataclass(slots=True)
class RecordView:
    """One record (or failure) on a page; ``prefix`` keeps ids unique in a batch."""

    prefix: str
    card: Card | None = None
    error: ErrorCard | None = None
    pieces: tuple[Piece, ...] = ()

    @property
    def id(self) -> str:
        return self.card.id if self.card else self.error.id if self.error else ""

    @property
    def title(self) -> str:
        if self.card:
            return self.card.title
        return f"Failed: {self.id}"

    def ev_id(self, view: EvidenceView) -> str:
        return f"{self.prefix}ev-{view.number}"

    def field_id(self, path: str | None) -> str:
        return f"{self.prefix}f-{path_anchor(path or 'record')}"


def abstract_layers(abstract: Abstract) -> list[tuple[int, int, str]]:
    """The title and section-heading ranges of an abstract's text (to style them)."""
    text = abstract.text
    layers: list[tuple[int, int, str]] = []
    if abstract.body_start > 0:
        title_end = len(text[: abstract.body_start].rstrip())
        if title_end:
            layers.append((0, title_end, "title"))
    for section in abstract.sections:
        if not section.heading:
            continue
        start = text.rfind(section.heading, abstract.body_start, section.start)
        if start >= 0 and section.start - (start + len(section.heading)) <= 3:
            layers.append((start, section.start, "heading"))
    return layers


def pieces(abstract: Abstract, evidence: list[EvidenceView], prefix: str = "") -> list[Piece]:
    """The abstract text as highlight pieces (each evidence view numbered as in the card)."""
    text = abstract.text
    ranges: list[tuple[int, int] | None] = [
        (view.span.start, view.span.end) if view.aligned else None for view in evidence
    ]
    result: list[Piece] = []
    for seg in segment(len(text), ranges, abstract_layers(abstract)):
        chunk = text[seg.start : seg.end]
        if not seg.spans:
            result.append(Piece(chunk, seg.layer))
            continue
        covering = [evidence[i] for i in seg.spans]
        statuses = sorted({v.span.status for v in covering}, key=_STATUS_ORDER.index)
        classes = ["ev", *(f"ev-{status.value}" for status in statuses)]
        if len(covering) > 1:
            classes.append("ev-overlap")
        anchors = [f"{prefix}ev-{evidence[i].number}" for i in seg.starts]
        primary = evidence[seg.primary if seg.primary is not None else seg.spans[-1]]
        result.append(
            Piece(
                text=chunk,
                layer=seg.layer,
                mark_id=anchors[0] if anchors else None,
                anchors=tuple(anchors[1:]),
                classes=" ".join(classes),
                href=f"#{prefix}f-{path_anchor(primary.span.field)}",
                title="; ".join(f"[{v.number}] {v.span.field} ({v.status})" for v in covering),
                evidence=" ".join(str(v.number) for v in covering),
            )
        )
    return result


def record_view(item: Result | Failure, *, prefix: str = "") -> RecordView:
    if isinstance(item, Failure):
        return RecordView(prefix=prefix, error=build_error_card(item))
    card = build_card(item)
    return RecordView(
        prefix=prefix, card=card, pieces=tuple(pieces(item.abstract, card.evidence, prefix))
    )


def _index_entry(view: RecordView) -> dict[str, object]:
    return {
        "href": f"#{view.prefix}record",
        "id": view.id,
        "title": view.title,
        "failed": view.error is not None,
    }


def _render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)


def render_html(
    items: list[Result | Failure] | Result | Failure, *, title: str | None = None
) -> str:
    """One self-contained page: a single record, or every record of a batch."""
    batch = items if isinstance(items, list) else [items]
    single = len(batch) == 1 and not isinstance(items, list)
    views = [
        record_view(item, prefix="" if single else f"r{n}-") for n, item in enumerate(batch, 1)
    ]
    page_title = title or (views[0].title if single else "Case records")
    parts = [_render(HEAD, title=page_title, batch=not single)]
    parts.extend(_render(RECORD, view=view, batch=not single) for view in views)
    index = [] if single else [_index_entry(view) for view in views]
    parts.append(_render(FOOT, index=index, count=len(views), batch=not single))
    return "".join(parts)


class HtmlFormat:
    """One page: the head at the first record, an article per record, the foot at close."""

    def __init__(self, stream: IO[str], *, single: bool = False) -> None:
        self.stream = stream
        self.single = single
        self.index: list[dict[str, object]] = []
        self.count = 0
        self.started = False

    def _start(self, title: str) -> None:
        if not self.started:
            self.started = True
            self.stream.write(_render(HEAD, title=title, batch=not self.single))

    def write(self, item: Result | Failure) -> None:
        self.count += 1
        view = record_view(item, prefix="" if self.single else f"r{self.count}-")
        if not self.single:
            self.index.append(_index_entry(view))
        self._start(view.title if self.single else "Case records")
        self.stream.write(_render(RECORD, view=view, batch=not self.single))

    def close(self) -> None:
        if self.single and not self.count:
            return  # the one record failed and was reported as an error: no page
        self._start("Case records")
        self.stream.write(_render(FOOT, index=self.index, count=self.count, batch=not self.single))
