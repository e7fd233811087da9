"""What the cleaner recognises: section headings, page chrome, the lines that end an abstract.

All data, no logic: regular expressions and word lists built from what PubMed, PMC,
publisher (BMC, Springer, Elsevier, Wiley), SciELO, Europe PMC and reading-app pages
put around an abstract.
"""

from __future__ import annotations

import re

# --- section headings --------------------------------------------------------------------------

SECTION_KINDS: dict[str, str] = {
    "background": "background",
    "backgrounds": "background",
    "introduction": "background",
    "introduction and importance": "background",
    "introduction and objective": "background",
    "introduction and objectives": "background",
    "context": "background",
    "rationale": "background",
    "importance": "background",
    "background and importance": "background",
    "background and aims": "background",
    "background and objective": "background",
    "background and objectives": "background",
    "background and purpose": "background",
    "objective": "objective",
    "objectives": "objective",
    "aim": "objective",
    "aims": "objective",
    "aim of the study": "objective",
    "purpose": "objective",
    "goal": "objective",
    "case": "case",
    "cases": "case",
    "case description": "case",
    "case descriptions": "case",
    "case presentation": "case",
    "case presentations": "case",
    "case report": "case",
    "case reports": "case",
    "case details": "case",
    "case history": "case",
    "case series": "case",
    "case study": "case",
    "case outline": "case",
    "case presentation and methods": "case",
    "clinical case": "case",
    "clinical presentation": "case",
    "clinical description": "case",
    "clinical findings": "case",
    "clinical course": "case",
    "clinical features": "case",
    "patient": "case",
    "patients": "case",
    "presentation": "case",
    "patient concerns": "case",
    "patient concern": "case",
    "diagnosis": "case",
    "diagnoses": "case",
    "interventions": "case",
    "intervention": "case",
    "outcomes": "case",
    "outcome": "case",
    "main observations": "case",
    "observations": "case",
    "observation": "case",
    "findings": "results",
    "methods": "methods",
    "method": "methods",
    "materials and methods": "methods",
    "patients and methods": "methods",
    "design": "methods",
    "setting": "methods",
    "results": "results",
    "result": "results",
    "discussion": "discussion",
    "clinical discussion": "discussion",
    "discussion and conclusion": "discussion",
    "discussion and conclusions": "discussion",
    "comment": "discussion",
    "comments": "discussion",
    "conclusion": "conclusion",
    "conclusions": "conclusion",
    "conclusion and relevance": "conclusion",
    "conclusions and relevance": "conclusion",
    "conclusions and implications": "conclusion",
    "learning points": "conclusion",
    "learning point": "conclusion",
    "lessons": "conclusion",
    "lesson": "conclusion",
    "lessons learned": "conclusion",
    "lessons learnt": "conclusion",
    "significance": "conclusion",
    "clinical significance": "conclusion",
    "clinical relevance": "conclusion",
    "clinical implications": "conclusion",
    "take-home message": "conclusion",
    "take-home messages": "conclusion",
    "take home message": "conclusion",
    "key messages": "conclusion",
    "key message": "conclusion",
    "key clinical message": "conclusion",
    "key clinical messages": "conclusion",
    "what is known": "background",
    "what is new": "conclusion",
    "case summary": "case",
    "conclusion and clinical relevance": "conclusion",
    "main outcome measures": "methods",
    "main outcome measure": "methods",
    "main outcomes and measures": "methods",
    "measurements": "methods",
    "measurements and main results": "results",
    "participants": "methods",
    "subjects": "methods",
    "data sources": "methods",
    "study selection": "methods",
    "data extraction": "methods",
    "data synthesis": "results",
    "evidence acquisition": "methods",
    "evidence synthesis": "results",
    "limitations": "discussion",
    "interpretation": "conclusion",
    "implications": "conclusion",
    "hypothesis": "objective",
    "aim and objectives": "objective",
    "aims and objectives": "objective",
    "study design": "methods",
    "summary": "other",
}
"""Heading (lower case, single spaces) → Section.kind."""

_HEADING_ALTERNATION = (
    "(?:"
    + "|".join(
        re.escape(name).replace(r"\ ", r"\s+").replace(r"\-", r"[-\s]?")
        for name in sorted(SECTION_KINDS, key=len, reverse=True)
    )
    + r")(?:\((?:s|es)\))?"
)

HEADING_AT_START = re.compile(
    rf"(?P<heading>(?i:{_HEADING_ALTERNATION}))"
    r"(?:\s*[:：]|\s*\.(?=\s)|\s+[-–—]\s|(?=\s+[A-Z0-9]))"
)
"""A heading at the start of a line, followed by a colon, a period, a dash or (for headings
written in capitals) directly by the text."""

HEADING_LINE = re.compile(
    rf"\s*(?P<number>(?:\d{{1,2}}|[IVX]{{1,4}})(?:\.\d{{1,2}})*\.?\s+)?(?P<heading>(?i:{_HEADING_ALTERNATION}))"
    r"\s*[:：.]?\s*"
)
"""A line that is only a heading (fullmatch)."""

HEADING_INLINE = re.compile(
    rf"[.!?)\]\"'’”]\s+(?P<heading>(?i:{_HEADING_ALTERNATION}))\s*[:：]\s*(?=\S)"
)
"""A heading in the middle of a line after a sentence end (abstracts pasted as one paragraph,
pages whose newlines were lost)."""

ABSTRACT_HEADING = re.compile(
    r"\s*(?P<word>abstract|summary|structured\s+abstract|author\s+summary|résumé|resumo|resumen)"
    r"\s*(?:[:：.]\s*|\s+(?=[A-Z])|$)",
    re.I,
)
FOREIGN_ABSTRACT_WORDS = frozenset({"résumé", "resumo", "resumen"})

# --- lines that end an abstract ------------------------------------------------------------------

END_LINE = re.compile(
    r"""\s*(?:
      (?:key\s*words?|keywords?|index\s+terms|mesh\s+terms|palavras[-\s]chave|palabras\s+clave
        |descritores|descriptores|mots[-\s]cl[ée]s|schlüsselwörter)\b
    | full\s+text\s+links | similar\s+articles | see\s+all\s+similar | cited\s+by\b
    | publication\s+types | related\s+information | linkout | grants?\s+and\s+funding
    | references\s*$ | bibliography\s*$ | literature\s+cited
    | (?:copyright|\(c\)\s*\d{4}|©)
    | conflicts?\s+of\s+interests?(?:\s+statement)?\s*:?\s*$
    | competing\s+interests? | declaration\s+of\s+competing | disclosure\s+statement
    | funding(?:\s+information)?\s*:?\s*$ | acknowledge?ments?\s*:?\s*$ | abbreviations\s*:?\s*$
    | author(?:s['’]?)?\s+contributions | ethics\s+(?:approval|declarations|statement)
    | consent\s+for\s+publication | availability\s+of\s+data | data\s+availability
    | supplementary\s+(?:material|information|data) | associated\s+data\s*$
    | footnotes\s*$ | figures?\s*(?:&|and)\s*tables\s*$ | figures\s*$ | tables\s*$
    | get\s+full\s+text | download\s+(?:pdf|full|article|citation) | view\s+full\s+text
    | cite\s+this\s+article | how\s+to\s+cite | rights\s+and\s+permissions | about\s+this\s+article
    | comment\s+in\b | erratum\s+in\b | update\s+of\b | retraction\s+in\b
    | publication\s+history | article\s+info(?:rmation)?\s*$ | received\s*[:\d]
    | accepted\s*[:\d] | published\s*(?:online)?\s*[:\d] | epub\s+\d{4}
    | this\s+is\s+an\s+open[-\s]access | this\s+article\s+is\s+(?:licensed|distributed|an\s+open|published\s+under)
    | open\s+access\s*$
    | all\s+rights\s+reserved | this\s+article\s+is\s+protected
    | graphical\s+abstract | highlights\s*$ | trial\s+registration
    | (?:academic\s+)?editor\s*: | citation\s*: | supporting\s+information\s*$
    | related\s+(?:articles|resources)\s*$ | recommended\s+articles | more\s+like\s+this
    | (?:\d+(?:\.\d+)*\.?\s+)(?:introduction|background|case\s+(?:report|presentation|description))\b
    )""",
    re.I | re.X,
)
"""A line starting with one of these ends the abstract (matched at line start)."""

# --- page chrome ---------------------------------------------------------------------------------

CHROME_LINES = frozenset(
    line.lower()
    for line in """
add like|add dislike|add to saved papers|saved|save|like|dislike|share|email|send to|cite|print
full text links|related resources|mobile app image|your privacy choices|privacy choices
can't access the paper?|can’t access the paper?|claim now
skip to main content|skip to main page content|skip to content|skip to navigation
an official website of the united states government|here's how you know|here’s how you know
search|search in pubmed|search in pmc|advanced|advanced search|clipboard|user guide|display options
free pmc article|free article|free full text|full text|abstract|affiliations|affiliation
affiliations expand|expand|collapse|show details|show more|show less|show all|see more|read more
item in clipboard|add to collections|add to my bibliography|create a new collection
add to an existing collection|cancel|actions|page navigation|title & authors|title and authors
similar articles|cited by|mesh terms|substances|publication types|related information
linkout - more resources|full text sources|medical|other literature sources|miscellaneous
follow ncbi|connect with nlm|national library of medicine|web policies|foia
hhs vulnerability disclosure|help|accessibility|careers|nlm|nih|hhs|usa.gov|pubmed|pmc
other formats|permalink|copy|resources|collections|journal list|pmc disclaimer
author information|article notes|copyright and license information|copyright notice
go to:|go to|associated data|supplementary materials|data availability statement
advertisement|explore journals|get published|about bmc|login|log in|sign in|register|menu
open access|published|download pdf|download epub|download citation|sections|figures|references
metrics|accesses|citations|altmetric|article metrics|share this article|cite this article
services on demand|journal|article|scielo analytics|google scholar h5m5 ()|google scholar h5m5
article in xml format|article references|how to cite this article|curriculum scienti
automatic translation|indicators|related links|english (pdf)|portuguese (pdf)|spanish (pdf)
europe pmc|about|tools|developers|contact us|helpdesk|feedback|twitter|facebook|linkedin
search life-sciences literature|recent history|saved searches|show full-text|formats
export citation|claim to orcid|free to read & use|citations & impact|impact metrics|data|funding
article citations|metrics details|scielo - scientific electronic library online|view pdf|view article|pdf|epub|html|xml
close|open|next|previous|back to top|top|home|case report|case reports|review|research article
original article|original research|article type|volume|issue|tweet|print this article
""".replace("\n", "|").split("|")
    if line.strip()
)
"""Lines that are chrome when they stand alone (compared lower-cased, stripped)."""

CHROME_PATTERNS = re.compile(
    r"""\s*(?:
      we\s+have\s+located\s+links | try\s+logging\s+in | for\s+a\s+smoother\s+one-click
    | for\s+the\s+best\s+experience | get\s+seemless | get\s+seamless
    | you\s+can\s+now\s+claim | all\s+material\s+on\s+this\s+website
    | this\s+website\s+also\s+contains | by\s+using\s+this\s+(?:service|website|site)
    | we\s+use\s+cookies | this\s+(?:site|website)\s+uses\s+cookies | accept\s+(?:all\s+)?cookies
    | cookie\s+(?:settings|preferences|policy) | manage\s+cookies | privacy\s+policy
    | terms\s+(?:of\s+use|and\s+conditions) | your\s+privacy\s+choices
    | download\s+(?:the\s+)?(?:app|our\s+app) | use\s+our\s+mobile\s+app | get\s+the\s+app
    | (?:pmid|pmcid|pmc\s*id|nihmsid|doi)\s*[:#]?\s*(?:pmc)?\d | doi\s*:?\s*10\.\d
    | https?://(?:dx\.)?doi\.org/ | https?://\S+\s*$ | www\.\S+\s*$
    | pdf\s*\(\s*\d+[\d.,]*\s*[km]b?\s*\) | \d+\s+(?:accesses|citations)\s*$
    | published\s*:\s | received\s*:\s | accepted\s*:\s | issue\s+date\s*:
    | (?:journal\s+of\s+medical\s+case\s+reports|bmc\s+\w+(?:\s+\w+)?)\s+volume\s+\d+
    | volume\s+\d+,\s+article\s+number | article\s+number\s*:
    | load\s+more | see\s+all | view\s+all | show\s+all | \d+\s+of\s+\d+\s*$
    | author\s+information | article\s+notes | copyright\s+and\s+license
    | affiliations?\s+expand | expand\s+affiliations | free\s+pmc\s+article
    | item\s+in\s+clipboard | \[?pubmed\]?\s*\[?google\s+scholar\]? | google\s+scholar\s*$
    | (?:epub|ecollection)\s+\d{4}
    | find\s+articles\s+by | look\s+up\s+in | share\s+(?:with|on|via)\s+\w+\s*$ | peer\s+review\s+reports
    | .{0,120}?\b(?:article\s+number\s*:|cite\s+this\s+article\s*$|\d+\s+accesses\s*$)
    | author\s+links\s+open | get\s+rights\s+and\s+content | under\s+a\s+creative\s+commons
    | show\s+(?:full\s+)?outline | add\s+to\s+mendeley
    )""",
    re.I | re.X,
)
"""Lines starting with these are chrome wherever they are."""

# --- lines around the title ----------------------------------------------------------------------

CITATION_LINE = re.compile(
    r"(?:\b(?:19|20)\d{2}\b[^\n]{0,40}?;\s*\d+(?:\s*\(\s*[\w-]+\s*\))?\s*:\s*[A-Za-z]?\d+)"
    r"|(?:\b(?:19|20)\d{2}\s*,\s*\d+(?:\s*\(\s*[\w-]+\s*\))?\s*:\s*[A-Za-z]?\d+)"
    r"|(?:\b(?:vol|volume)\.?\s*\d+\s*,\s*(?:\w+\s+)?(?:19|20)\d{2}\b)"
    r"|(?:\bvol(?:ume)?\.?\s*\d+[^\n]{0,30}\b(?:no|issue|pp?)\.?\s*\d+)",
    re.I,
)
AFFILIATION_WORDS = re.compile(
    r"\b(?:department|dept\.?|university|universidad|universidade|université|hospital|hospitais?"
    r"|institute|instituto|school\s+of|college|faculty|faculdade|facultad|clinic|center\s+for"
    r"|centre|laboratory|division\s+of|unit\s+of|service\s+of|medical\s+center|research\s+center)\b",
    re.I,
)
NAME_PART = re.compile(
    r"\s*(?:and\s+|&\s*)?(?:[A-ZÀ-Ý][\w'’.-]*\.?)(?:\s+(?:[A-ZÀ-Ý][\w'’.-]*\.?|van|von|de|da|do|dos|del|der|di|la|le|el|y|bin|ibn))"
    r"{0,4}\s*[\d,*†‡§¶#a-f ]*\s*$"
)
AUTHOR_MARKERS = re.compile(r"\b(?:et al\.?|and\s+colleagues)\b", re.I)
SENTENCE_END = re.compile(
    r"(?:[A-Za-z0-9)\]%\"'”’][.!?]|[.!?][\"'”’)\]])(?:\s+[\"'“‘(]?[A-Z]|\s*$)"
)

PRE_ABSTRACT_BLOCKS = frozenset(
    {"highlights", "graphical abstract", "key points", "outline", "research highlights"}
)
"""Blocks that come before the abstract; lines in them are never the title."""

ENGLISH_WORDS = frozenset(
    [
        "the",
        "of",
        "a",
        "an",
        "in",
        "with",
        "and",
        "after",
        "for",
        "to",
        "on",
        "as",
        "by",
        "from",
        "at",
        "is",
    ]
)
OTHER_WORDS = frozenset(
    [
        "de",
        "em",
        "com",
        "da",
        "do",
        "das",
        "dos",
        "na",
        "no",
        "el",
        "la",
        "las",
        "los",
        "en",
        "y",
        "con",
        "para",
        "por",
        "del",
        "um",
        "uma",
        "une",
        "le",
        "les",
        "des",
        "et",
        "du",
        "au",
        "una",
    ]
)
