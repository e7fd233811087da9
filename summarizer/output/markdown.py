"""Markdown: a readable case card per record (``templates/card.md.j2``)."""

from __future__ import annotations

from typing import IO

from ..ingest.detect import OWN_OUTPUT_MARKERS
from ..results import Failure, Result
from .card import build_card, build_error_card
from .templating import environment

TEMPLATE = "card.md.j2"
MARKER = OWN_OUTPUT_MARKERS[1]


def render_markdown(item: Result | Failure, *, footnote_prefix: str = "") -> str:
    """The Markdown card of a result, or an error card for a failure.

    ``footnote_prefix`` keeps footnote labels unique when several cards share a file.
    """
    template = environment().get_template(TEMPLATE)
    if isinstance(item, Failure):
        text = template.render(card=build_error_card(item), fn=footnote_prefix, error=True)
    else:
        text = template.render(card=build_card(item), fn=footnote_prefix, error=False)
    return text.strip("\n") + "\n"


class MarkdownFormat:
    """Cards one after another, separated by a rule; labels prefixed in a batch."""

    def __init__(self, stream: IO[str], *, single: bool = False) -> None:
        self.stream = stream
        self.single = single
        self.count = 0

    def write(self, item: Result | Failure) -> None:
        self.count += 1
        if self.count == 1:  # invisible when rendered; keeps the file from being read as input
            self.stream.write(MARKER.decode() + "\n\n")
        else:
            self.stream.write("\n---\n\n")
        prefix = "" if self.single else f"{self.count}-"
        self.stream.write(render_markdown(item, footnote_prefix=prefix))

    def close(self) -> None:
        pass
