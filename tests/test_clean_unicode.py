"""Unicode repair and normalisation keep the offset map exact."""

from __future__ import annotations

from array import array

import pytest
from ftfy.badness import is_bad

from summarizer.clean import clean
from summarizer.clean.text import looks_mojibake, normalise, span_offsets
from summarizer.document import Document


def norm(text: str) -> tuple[str, list[int]]:
    result, offsets = normalise(text, span_offsets(0, len(text)))
    assert len(result) == len(offsets)
    return result, list(offsets)


@pytest.mark.parametrize(
    ("raw", "clean_text"),
    [
        ("fever of 39\u00a0°C", "fever of 39 °C"),
        ("con\u00adfirmed", "confirmed"),
        ("zero\u200bwidth", "zerowidth"),
        ("the patient’s “refractory” oedema", 'the patient\'s "refractory" oedema'),
        ("C5–C6 and 3—5 and \u22122", "C5-C6 and 3-5 and -2"),
        ("a 37\u2011year\u2011old", "a 37-year-old"),
        ("\ufb01brosis and \ufb02ow", "fibrosis and flow"),
        ("MÃ©nÃ©trierâ€™s disease", "Ménétrier's disease"),
        ("ＣＴ scan", "CT scan"),
        ("  many   spaces\tand\nlines  ", "many spaces and lines"),
        ("wait…", "wait..."),
        ("cafe\u0301", "café"),
    ],
)
def test_normalise(raw: str, clean_text: str) -> None:
    result, offsets = norm(raw)
    assert result == clean_text
    assert offsets == sorted(offsets)
    assert all(0 <= position < len(raw) for position in offsets)


def test_unchanged_characters_map_exactly() -> None:
    raw = "MÃ©nÃ©trierâ€™s disease, con\u00adfirmed\u00a0twice"
    result, offsets = norm(raw)
    for index, character in enumerate(result):
        if character.isascii() and character not in " '":
            assert raw[offsets[index]] == character
    assert raw[offsets[result.index("disease")] :].startswith("disease")


def test_mojibake_repair_maps_to_the_broken_sequence() -> None:
    raw = "Ménétrier’s".encode().decode("cp1252")
    result, offsets = norm(raw)
    assert result == "Ménétrier's"
    assert raw[offsets[1]] == "Ã"  # é came from "Ã©"
    assert result[2] == "n" and raw[offsets[2]] == "n"


def test_html_entities_in_a_text_page_are_left_alone_unless_broken() -> None:
    result, _ = norm("A &amp; B")
    assert result in ("A & B", "A &amp; B")


def test_clean_keeps_offsets_through_repairs() -> None:
    page = (
        "Add to saved papers\n\nGastric \ufb01stula in a 40\u2011year\u2011old\n\n"
        "BACKGROUND: The patient’s \u201cfistula\u201d closed.\u00a0It re\u00adopened.\n\n"
        "CASE DESCRIPTION: A 40-year-old man had a gastrocutaneous fistula for 3–4 weeks."
    )
    abstract = clean(Document("u", page, "u", "text"))
    assert abstract.title == "Gastric fistula in a 40-year-old"
    assert (
        abstract.section_text(abstract.sections[0])
        == 'The patient\'s "fistula" closed. It reopened.'
    )
    start = abstract.text.index("reopened")
    assert page[abstract.offsets[start] : abstract.offsets[start] + 3] == "re\u00ad"
    assert isinstance(abstract.offsets.to_original(0, 5), tuple)
    assert isinstance(span_offsets(0, 3), array)


def _mojibake_samples() -> list[str]:
    """Our own sentences, read back in each encoding ftfy knows mixed up with UTF-8, plus
    short sequences at the edges of a text (ftfy's pattern anchors some at the start)."""
    sentences = [
        "A 47-year-old woman with Sjögren’s syndrome had a CRP of 12 mg/L (normal ≤ 5).",
        "Behçet’s disease — uveitis; temperature 38.5 °C, ±2 µm, 3 × 10⁹/L “febrile”.",
        "Résumé: café-au-lait macules • naïve T cells ½ dose ¾ ‰ € £ ¥ © ® ™ Ω ßœ.",
        "Пациентка 45 лет; ασθενής 50 ετών; 患者は45歳の女性。",
    ]
    samples = list(sentences)
    for sentence in sentences:
        for encoding in ("cp1252", "latin-1", "mac_roman", "cp1251", "cp1253", "cp1257", "cp437"):
            samples.append(sentence.encode("utf-8").decode(encoding, errors="replace"))
    samples += ["Ã©", "Â ", "x Â y", "×²", "√±", "вЂ", "ā€", "ГўВЂВ\x9dx", "a\x85b", "Ø§Ù„"]
    return samples


@pytest.mark.parametrize("text", _mojibake_samples())
def test_mojibake_check_agrees_with_ftfy(text: str) -> None:
    for piece in (text, text[1:], text[:-1], f"ok {text} ok", text * 2):
        assert looks_mojibake(piece) == is_bad(piece), piece


def test_the_mojibake_check_is_ftfys_in_windows() -> None:
    import random
    import re._parser as parser  # the width of the pattern: how far a match can reach

    from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES, is_bad

    from summarizer.clean.text import MOJIBAKE_REACH, looks_mojibake

    assert parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags).getwidth()[1] <= MOJIBAKE_REACH
    unusual = "".join(MOJIBAKE_CATEGORIES.values()).replace("-", "") + "ÃÂÎÐ°©®µ€œŠ²³×ØÙàвЂГў"
    alphabet = "abcxyzABCXYZ0189 .,;:!?()'\"-\n\t" * 3 + unusual
    chance = random.Random(13)
    texts = ["", "plain ASCII only", "MÃ©nÃ©trierâ€™s", "fever of 39 °C", "Ã tout"]
    for _ in range(4000):
        length = chance.randrange(0, 80)
        texts.append("".join(chance.choice(alphabet) for _ in range(length)))
    padding = "a long stretch of plain text " * 3
    texts += [padding + text + padding for text in texts[:800]]  # far from either end
    for text in texts:
        assert looks_mojibake(text) == is_bad(text), text
    assert any(is_bad(text) for text in texts) and not all(is_bad(text) for text in texts)
