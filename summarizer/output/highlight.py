"""Split a text into non-overlapping segments under possibly overlapping, nested spans.

HTML cannot nest ``<mark>`` elements across each other's boundaries, so the page
renders the cleaned abstract as a flat run of segments, each one knowing every span
that covers it (and which of them is innermost, for its colour and its link).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class Segment:
    """``text[start:end]``, covered by ``spans`` (indices into the input, in input order)."""

    start: int
    end: int
    spans: tuple[int, ...] = ()
    starts: tuple[int, ...] = ()
    """The spans whose first segment this is (where their anchor goes)."""
    primary: int | None = None
    """The innermost covering span: shortest, then latest-starting, then last given."""
    layer: str | None = None
    """The label of the layer range covering it (e.g. ``title``, ``heading``), if any."""


def segment(
    length: int,
    spans: Sequence[tuple[int, int] | None],
    layers: Sequence[tuple[int, int, str]] = (),
) -> list[Segment]:
    """Segments covering ``[0, length)`` in order, none empty, none overlapping.

    ``spans`` are ``(start, end)`` half-open ranges (``None`` or an empty/out-of-range
    one is skipped: an unaligned quote has no place in the text). ``layers`` are
    non-overlapping labelled ranges (title, section headings) carried onto the segments.
    """
    valid: list[tuple[int, int, int]] = []
    for index, span in enumerate(spans):
        if span is None:
            continue
        start, end = max(0, span[0]), min(length, span[1])
        if start < end:
            valid.append((index, start, end))
    labelled = [(max(0, a), min(length, b), label) for a, b, label in layers if a < b]

    cuts = {0, length}
    for _, start, end in valid:
        cuts.update((start, end))
    for start, end, _ in labelled:
        cuts.update((max(0, start), min(length, end)))
    bounds = sorted(cut for cut in cuts if 0 <= cut <= length)

    segments: list[Segment] = []
    placed: set[int] = set()
    for left, right in pairwise(bounds):
        if left >= right:
            continue
        covering = [item for item in valid if item[1] <= left and item[2] >= right]
        indices = tuple(item[0] for item in covering)
        starts = tuple(index for index in indices if index not in placed)
        placed.update(starts)
        primary = None
        if covering:
            primary = min(covering, key=lambda item: (item[2] - item[1], -item[1], -item[0]))[0]
        layer = next((label for a, b, label in labelled if a <= left and b >= right), None)
        previous = segments[-1] if segments else None
        if previous and not starts and previous.spans == indices and previous.layer == layer:
            segments[-1] = Segment(
                previous.start, right, indices, previous.starts, previous.primary, layer
            )
            continue
        segments.append(Segment(left, right, indices, starts, primary, layer))
    return segments
