"""Text neutralised for each place it is written to: the one module that does it.

A record's text comes from the abstract (untrusted), and ids and paths come from input
files; each sink has its own dangerous syntax:

- ``csv_cell``: spreadsheet formulas (cells starting ``=``, ``+``, ``-``, ``@``, tab or
  carriage return get a leading apostrophe, as OWASP recommends);
- ``terminal_text``: escape sequences and control characters (a terminal runs them),
  removed from a message; ``visible_controls``: the same shown as ``[U+001B]`` in data
  printed to a terminal (``cli.terminal``);
- ``markdown_text``: inline and block-level Markdown (``~~~`` fences, lists, headings,
  quotes, tables, HTML) and invisible characters;
- ``visible_bidi``: bidirectional controls, which reorder what a reader sees, shown as
  ``[U+202E]`` in Markdown and HTML;
- ``prompt_fence``: anything that could close the prompt's ``<abstract>`` fence early,
  in any case or spacing.

JSON and JSON Lines stay lossless: they escape what they must themselves.
"""

from __future__ import annotations

import re

__all__ = [
    "BIDI_CONTROLS",
    "FORMULA_PREFIXES",
    "csv_cell",
    "csv_cell_text",
    "markdown_text",
    "prompt_fence",
    "shown_text",
    "terminal_text",
    "visible_bidi",
    "visible_controls",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")

# ESC sequences (CSI, OSC, DCS/SOS/PM/APC with their terminators, two-character ones),
# the 8-bit CSI/OSC forms, then any control character left (C0, DEL, C1).
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def csv_cell(value: str | None) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula.

    The apostrophe also goes before a text that already starts with apostrophes and then
    a formula character, so ``csv_cell_text`` gives every text back exactly.
    """
    if not value:
        return ""
    return "'" + value if value.lstrip("'").startswith(FORMULA_PREFIXES) else value


def csv_cell_text(cell: str) -> str:
    """The text ``csv_cell`` was given (a review table read back)."""
    if cell.startswith("'") and cell[1:].lstrip("'").startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


def visible_bidi(text: str) -> str:
    """Bidirectional controls replaced by a visible ``[U+XXXX]``."""
    return _BIDI.sub(lambda match: f"[U+{ord(match[0]):04X}]", text)


def shown_text(text: str) -> str:
    """Text for a page a person reads (Markdown, HTML): control characters dropped (line
    breaks and tabs kept), bidi controls shown."""
    return visible_bidi(_CONTROL.sub("", text))


def terminal_text(text: str, *, keep_newlines: bool = False) -> str:
    """Text safe to print on a terminal: escape sequences and control characters removed
    (newlines and tabs become spaces unless ``keep_newlines``), bidi controls shown."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    if keep_newlines:
        text = _CONTROL.sub("", text.replace("\t", " "))
    else:
        text = _CONTROL_OR_LINE.sub(lambda match: " " if match[0] in "\t\n\r" else "", text)
    return visible_bidi(text)


# Every control character but newline and tab, a carriage return not ending a line, and
# the bidi controls.
_SHOWN_AS_CODE = re.compile(
    f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}]|\\r(?!\\n)"
)


def visible_controls(text: str) -> str:
    """Data for a terminal: each control character (escape sequences included) and bidi
    control shown as ``[U+001B]``, so the terminal runs none of them; line breaks (``\\n``,
    ``\\r\\n``) and tabs kept."""
    return _SHOWN_AS_CODE.sub(lambda match: f"[U+{ord(match[0]):04X}]", text)


# Inline syntax anywhere; ``~`` for GFM strikethrough and ``~~~`` fences, ``&`` for
# entities (``&#x202E;`` would bring back a bidi control).
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|#~&])")
# Block syntax where the value starts a line: list items, an ordered list's number, a
# thematic break or setext underline, a heading, a quote, a fence.
_MD_BLOCK_START = re.compile(r"^([-+=])|^(\d{1,9})([.)])")


def markdown_text(value: object) -> str:
    """Text for one line of Markdown: it shows as written and starts no block.

    Newlines are folded (so the value cannot start a line of its own), Markdown's
    special characters backslash-escaped, a block marker at the start escaped too,
    control characters dropped and bidi controls shown.
    """
    text = " ".join(shown_text(_ESCAPE_SEQUENCE.sub("", str(value))).split())
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_BLOCK_START.sub(
        lambda match: f"\\{match[1]}" if match[1] else f"{match[2]}\\{match[3]}", text
    )


# Any case, any spacing, and stray attributes: "</ABSTRACT>", "</abstract >", "< /abstract>".
_FENCE_CLOSE = re.compile(r"<\s*/\s*abstract\b[^<>]*>", re.IGNORECASE)


def prompt_fence(text: str) -> str:
    """The abstract with every closing-tag look-alike of its fence defused (the angle
    brackets become full-width ``＜``/``＞``), so the fence closes only where the
    template closes it."""
    return _FENCE_CLOSE.sub(
        lambda match: match[0].replace("<", "\uff1c").replace(">", "\uff1e"), text
    )
