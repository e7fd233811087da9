"""In-house article PDFs for the tests, written with fpdf2 and laid out like real ones.

Every text here is invented. The layouts copy what real article PDFs do to a reader of
their text layer: a full-width abstract above two columns, columns written line by line
across the page (so the file's order interleaves them), running heads and footers with
page numbers, a vertical download watermark in the margin, footnote marks after the title
and the authors, an author line above the title, a label above the title in its size,
words hyphenated across lines, a soft hyphen, a ligature, an author footnote at the foot of
a column, a sidebar beside a narrow main column, a cover sheet with the abstract pages
later, and bad files (no text layer, encrypted, truncated, malformed, a decompression bomb).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF

WIDTH, HEIGHT = 595.0, 842.0
LEFT, RIGHT = 40.0, 555.0
GUTTER = 14.0
COLUMN = (RIGHT - LEFT - GUTTER) / 2
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
"""A font with the "fi" ligature glyph (Debian's fonts-dejavu-core)."""

CASE_TITLE = "An Invented Case of Recurrent Fever after a Garden Thorn Injury"
CASE_ABSTRACT = [
    "Thorn injuries are a rare source of deep infection, and most reported cases concern",
    "adults working outdoors. We describe a 7-year-old boy who presented with fever and a",
    "swollen left knee two weeks after a garden thorn injury. His medical-history-",
    "taking had missed the injury, and the inci-",
    "dence of such late presentations is unknown. Aspira\u00ad",
    "tion of the joint grew an environmental organism, and he recovered fully after six",
    "weeks of oral treatment. Clinicians should ask about plant injuries in a child with",
    "an unexplained swollen joint.",
]
"""The abstract's printed lines: a compound broken at its hyphen, a word broken with a
hyphen, a word broken at a soft hyphen."""
CASE_ABSTRACT_TEXT = (
    "Thorn injuries are a rare source of deep infection, and most reported cases concern "
    "adults working outdoors. We describe a 7-year-old boy who presented with fever and a "
    "swollen left knee two weeks after a garden thorn injury. His medical-history-taking had "
    "missed the injury, and the incidence of such late presentations is unknown. Aspiration "
    "of the joint grew an environmental organism, and he recovered fully after six weeks of "
    "oral treatment. Clinicians should ask about plant injuries in a child with an "
    "unexplained swollen joint."
)
RUNNING_HEAD = "Case Reports in Invented Paediatrics"
WATERMARK = "Case Reports in Invented Paediatrics downloaded from invented.example by 10.1.2.3 on 01-Feb-2024 For personal use only."

_BODY_LEFT = [
    "1. Introduction",
    "Plant thorns carry soil organisms into the tissues they",
    "pierce, and a joint close to the skin is at particular risk.",
    "Most children are seen within days of the injury; a late",
    "presentation is easily mistaken for a reactive arthritis.",
    "2. Case Presentation",
    "The boy had been well until two weeks before admission,",
    "when he fell into a rose bed while playing in the garden.",
]
_BODY_RIGHT = [
    "His parents removed a thorn from the knee at home. Ten",
    "days later he developed fever of 39.2 degrees and could",
    "not bear weight. The knee was warm and swollen, and an",
    "ultrasound scan showed a joint effusion. Blood counts",
    "showed a raised white cell count and C-reactive protein.",
    "Aspiration yielded turbid fluid, and culture grew an",
    "organism found in garden soil. He was treated and the",
    "swelling had gone at the six-week visit.",
]
_BODY_MORE = [
    "3. Discussion",
    "A thorn that breaks the skin over a joint can carry soil",
    "organisms into the joint space. The delay between the",
    "injury and the symptoms explains why the history is",
    "often not volunteered by the family or asked for.",
]


class _Writer:
    """fpdf2 in points, with the few moves an article page needs."""

    def __init__(self) -> None:
        self.pdf = FPDF(unit="pt", format=(WIDTH, HEIGHT))
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(0, 0, 0)
        self.unicode = DEJAVU.is_file()
        if self.unicode:
            self.pdf.add_font("DejaVu", fname=str(DEJAVU))

    def page(
        self, number: int | None = None, *, head: str | None = None, watermark: bool = False
    ) -> None:
        self.pdf.add_page()
        if head is not None:
            self.text(LEFT, 40, head, 8)
        if number is not None:
            self.text(WIDTH / 2 - 5, HEIGHT - 30, str(number), 8)
            self.text(
                LEFT, HEIGHT - 42, f"{RUNNING_HEAD}, Volume 9, Article ID 4242, page {number}", 7
            )
        if watermark:
            with self.pdf.rotation(90, 24, HEIGHT - 60):
                self.text(24, HEIGHT - 60, WATERMARK, 7)

    def text(self, x: float, y: float, text: str, size: float, *, bold: bool = False) -> None:
        """``text`` with its baseline at ``y`` points from the top."""
        if self.unicode and not text.isascii():
            self.pdf.set_font("DejaVu", size=size)
        else:
            self.pdf.set_font("Helvetica", "B" if bold else "", size=size)
        self.pdf.text(x, y, text)

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        self.pdf.set_font("Helvetica", "B" if bold else "", size=size)
        return float(self.pdf.get_string_width(text))

    def lines(self, x: float, y: float, lines: Sequence[str], size: float, leading: float) -> float:
        for line in lines:
            self.text(x, y, line, size)
            y += leading
        return y

    def mark(self, x: float, y: float, mark: str, size: float) -> None:
        """A footnote mark after a word: smaller, raised."""
        self.text(x + 0.5, y - size * 0.35, mark, size * 0.6)

    def columns(
        self, y: float, left: Sequence[str], right: Sequence[str], size: float, leading: float
    ) -> float:
        """Two columns written line by line across the page: the file interleaves them."""
        widest = max(self.width(line, size) for line in (*left, *right))
        assert widest < COLUMN, f"a column line is {widest:.0f} pt wide, the column {COLUMN:.0f}"
        for index in range(max(len(left), len(right))):
            if index < len(left):
                self.text(LEFT, y + index * leading, left[index], size)
            if index < len(right):
                self.text(LEFT + COLUMN + GUTTER, y + index * leading, right[index], size)
        return y + max(len(left), len(right)) * leading

    def bytes(self) -> bytes:
        return bytes(self.pdf.output())


def two_column_case_report() -> bytes:
    """A case report: label and title in one size, a footnote mark after the title, authors
    with marks, affiliation, correspondence, dates, a copyright line, then the abstract with
    no heading, full width, above two interleaved columns; running heads, footers, page
    numbers and a watermark on every page."""
    w = _Writer()
    w.page(1, watermark=True)
    w.text(LEFT, 90, "Case Report", 18, bold=True)
    w.text(LEFT, 114, CASE_TITLE, 18, bold=True)
    w.mark(LEFT + w.width(CASE_TITLE, 18, bold=True), 114, "*", 18)
    x = LEFT
    for name, mark in (
        ("Ana Inventado", "1"),
        (", Bruno Ficticio", "2"),
        (" and Carla Exemplo", "1"),
    ):
        w.text(x, 146, name, 11)
        x += w.width(name, 11)
        w.mark(x, 146, mark, 11)
        x += w.width(mark, 6.6) + 1
    y = w.lines(
        LEFT,
        166,
        [
            "1 Department of Paediatrics, Invented Children's Hospital, Springfield 12345, Utopia",
            "2 Department of Microbiology, Invented University, Springfield 12345, Utopia",
        ],
        8.5,
        11,
    )
    y = w.lines(
        LEFT,
        y + 8,
        ["Correspondence should be addressed to Ana Inventado; ana@hospital.invalid"],
        8.5,
        11,
    )
    y = w.lines(
        LEFT, y + 8, ["Received 3 March 2024; Accepted 9 May 2024; Published 20 May 2024"], 8.5, 11
    )
    y = w.lines(
        LEFT,
        y + 8,
        [
            "Copyright \u00a9 2024 Ana Inventado et al. This is an open access article distributed under the Creative Commons",
            "Attribution License, which permits unrestricted use, provided the original work is properly cited.",
        ],
        8.5,
        11,
    )
    y = w.lines(LEFT, y + 12, CASE_ABSTRACT, 9.5, 12)
    w.columns(y + 20, _BODY_LEFT, _BODY_RIGHT, 9.5, 12)
    for number in (2, 3):
        w.page(number, head=RUNNING_HEAD, watermark=True)
        w.columns(80, _BODY_MORE + _BODY_LEFT, _BODY_RIGHT + _BODY_MORE, 9.5, 12)
    return w.bytes()


STRUCTURED_TITLE = "Invented Kidney Stones in a Marathon Runner: a Structured Case Report"


def structured_abstract() -> bytes:
    """An author line above the title; "Abstract:" and inline labels ("Background.",
    "Case Description."); the abstract runs down the left column, past an author footnote
    in smaller print at the column's foot, into the right column; "Keywords" after it."""
    w = _Writer()
    w.page(None)
    w.text(LEFT, 50, "Open Invented Medicine 2024; 5: 10-15", 8)
    w.text(LEFT, 76, "Dana Exemplar*, Eli Fabricado, Fay Imaginario", 12)
    w.lines(
        LEFT,
        108,
        ["Invented Kidney Stones in a Marathon Runner:", "a Structured Case Report"],
        20,
        24,
    )
    left = [
        "Abstract: Background. Kidney stones in athletes are",
        "thought to follow dehydration during long races.",
        "",
        "Case Description. A 34-year-old woman developed",
        "flank pain and blood in the urine after a marathon.",
        "A scan showed a stone of 6 mm in the left ureter,",
        "which passed after two days of fluids and analgesia.",
    ]
    right = [
        "Conclusion. Runners should drink during long races",
        "and report flank pain after them.",
        "",
        "Keywords: nephrolithiasis; running; dehydration",
        "",
        "1 Introduction",
        "Long-distance running has grown popular among adults",
        "of all ages, and its effects on the kidney are debated.",
    ]
    w.lines(LEFT, 190, left, 9.5, 12.5)
    w.lines(LEFT + COLUMN + GUTTER, 190, right, 9.5, 12.5)
    w.lines(
        LEFT,
        700,
        [
            "*Corresponding author: Dana Exemplar, Department of Nephrology,",
            "Invented General Hospital, Springfield, Utopia. E-mail: dana@invalid",
        ],
        7.5,
        9,
    )
    w.page(2, head="Dana Exemplar et al.")
    w.lines(LEFT, 90, _BODY_LEFT, 10, 12.5)
    w.page(3, head="Dana Exemplar et al.")
    w.lines(LEFT, 90, _BODY_RIGHT, 10, 12.5)
    return w.bytes()


SIDEBAR_TITLE = "Efficacy of an Invented Checklist for Fever in Returning Travellers"


def sidebar_article() -> bytes:
    """A narrow main column beside a left sidebar of citation, dates and licence, written line
    by line across both (the file interleaves them); an "Abstract:" label and inline section
    labels; a ligature ("ﬁ", where the font has it)."""
    w = _Writer()
    fi = "\ufb01" if w.unicode else "fi"
    w.page(None)
    w.text(LEFT, 60, "Invented Journal of Travel Health", 10)
    w.text(LEFT, 84, "Article", 10)
    w.lines(LEFT, 110, [SIDEBAR_TITLE], 17, 20)
    sidebar = [
        "Citation: Ficticio, B. Efficacy of an",
        "Invented Checklist. Inv. J. Travel",
        "Health 2024, 3, 77.",
        "",
        "Received: 2 January 2024",
        "Accepted: 1 February 2024",
        "Published: 9 February 2024",
        "",
        "Copyright: \u00a9 2024 by the authors.",
        "Licensee Invented Press. This",
        "article is an open access article.",
    ]
    main = [
        "Abstract: Background: Fever in a returning traveller may be",
        "malaria, and delays in diagnosis are common. Methods: We",
        "compared a checklist with usual care in 120 adults. Results: The",
        "checklist found the diagnosis sooner (median 4 versus 9 hours)",
        "and was used in most visits. Conclusions: The checklist is a",
        f"simple aid for {fi}rst-line clinicians seeing febrile travellers.",
        "",
        "Keywords: travel medicine; fever; malaria; checklist",
        "",
        "1. Introduction",
        "Travel to malaria-endemic regions keeps rising every year.",
    ]
    main_x = LEFT + 130
    for index in range(max(len(sidebar), len(main))):
        y = 160 + index * 12.5
        if index < len(sidebar) and sidebar[index]:
            w.text(LEFT, y, sidebar[index], 7)
        if index < len(main) and main[index]:
            w.text(main_x, y, main[index], 9.5)
    w.page(2, head="Inv. J. Travel Health 2024, 3, 77")
    w.lines(main_x, 90, _BODY_LEFT, 10, 12.5)
    w.page(3, head="Inv. J. Travel Health 2024, 3, 77")
    w.lines(main_x, 90, _BODY_RIGHT, 10, 12.5)
    return w.bytes()


COVER_TITLE = "Inhaled Invented Gas in Preterm Lambs: a Pilot Feasibility Trial"


def cover_sheet_manuscript() -> bytes:
    """A provisional manuscript: a cover sheet (notice, title, author e-mails, dates), a page
    of publisher boilerplate, the title again with the authors, the affiliations, then the
    "Abstract" heading on page 5 with section labels on their own lines; page numbers."""
    w = _Writer()
    w.page(None)
    w.lines(
        LEFT,
        80,
        ["This Provisional PDF corresponds to the article as it appeared upon acceptance."],
        11,
        14,
    )
    w.text(LEFT, 120, COVER_TITLE, 14, bold=True)
    w.lines(
        LEFT + 100,
        160,
        [f"Author Number{n} (author{n}@invalid.example)" for n in range(1, 9)],
        11,
        14,
    )
    w.lines(
        LEFT + 60, 320, ["Submission date 1 March 2024", "Publication date 1 June 2024"], 11, 14
    )
    w.page(None)
    w.lines(
        LEFT,
        80,
        ["For information about publishing your research in this journal, go to the website."],
        11,
        14,
    )
    w.page(1)
    w.lines(LEFT, 80, [COVER_TITLE], 14, 18)
    w.lines(LEFT, 120, [f"Author Number{n}" for n in range(1, 9)], 11, 14)
    w.page(2)
    w.lines(
        LEFT,
        80,
        [
            f"{n} Department of Invented Studies, University of Nowhere, City {n}"
            for n in range(1, 12)
        ],
        11,
        14,
    )
    w.page(3)
    w.lines(
        LEFT,
        80,
        [
            "Abstract",
            "Background",
            "Inhaled gases can relax the lung vessels of newborns with poor oxygen levels. We",
            "tested whether an invented gas could be given safely to preterm lambs.",
            "Methods",
            "Twelve lambs were randomised to the gas or to air for six hours, and oxygen levels",
            "were recorded every hour by a blinded observer.",
            "Results",
            "Oxygen levels rose in the treated lambs, and no adverse events were seen.",
            "Conclusions",
            "The invented gas was feasible and safe in this pilot trial, and a larger trial is",
            "planned for the next breeding season.",
            "Keywords",
            "Pulmonary hypertension, Newborn, Inhaled therapy",
            "Background",
            "Hypoxaemic respiratory failure in newborns remains a common problem worldwide.",
        ],
        11,
        15,
    )
    w.page(4)
    w.lines(LEFT, 80, _BODY_LEFT, 11, 15)
    return w.bytes()


def long_article(pages: int = 500) -> bytes:
    """A short abstract on page 1 and hundreds of pages of body after it."""
    w = _Writer()
    w.page(1)
    w.lines(LEFT, 80, ["A Long Invented Monograph on Fever in Children"], 18, 22)
    w.lines(LEFT, 120, ["Abstract", *CASE_ABSTRACT], 10, 13)
    w.lines(LEFT, 260, _BODY_LEFT, 10, 13)
    for number in range(2, pages + 1):
        w.page(number, head="A Long Invented Monograph")
        w.lines(LEFT, 90, _BODY_RIGHT, 10, 13)
    return w.bytes()


def scanned() -> bytes:
    """Pages with drawings and no text layer, as a scanner leaves them."""
    w = _Writer()
    for _ in range(2):
        w.pdf.add_page()
        for row in range(40):
            w.pdf.rect(LEFT, 60 + row * 18, 400 - (row % 5) * 30, 8, style="F")
    return w.bytes()


def encrypted() -> bytes:
    """An article that opens only with a password."""
    w = _Writer()
    w.page(1)
    w.lines(LEFT, 100, ["A Locked Invented Article", *CASE_ABSTRACT], 10, 13)
    w.pdf.set_encryption(owner_password="owner", user_password="secret")
    return w.bytes()


def truncated() -> bytes:
    """The first few hundred bytes of an article: a download cut short."""
    return two_column_case_report()[:400]


def malformed() -> bytes:
    """A PDF header and then nothing a PDF reader can parse."""
    return b"%PDF-1.7\n" + b"this is not a PDF body \x00\x01\x02 " * 200


def decompression_bomb(decoded_mb: int = 400) -> bytes:
    """One page whose content stream inflates to ``decoded_mb`` megabytes of spaces."""
    packer = zlib.compressobj(1)
    chunk = b" " * (1 << 20)
    stream = b"".join(packer.compress(chunk) for _ in range(decoded_mb)) + packer.flush()
    return _raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
            + stream
            + b"\nendstream",
        ]
    )


def _raw_pdf(objects: list[bytes]) -> bytes:
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def scanned_then_text(pages: int) -> bytes:
    """Pages of a list with no abstract or introduction anywhere (a catalogue)."""
    w = _Writer()
    for number in range(1, pages + 1):
        w.page(number)
        w.lines(
            LEFT, 90, [f"Item {number}.{row} invented catalogue entry" for row in range(20)], 10, 14
        )
    return w.bytes()
