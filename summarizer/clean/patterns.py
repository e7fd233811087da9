"""What the cleaner recognises, as named data: section labels, the cues that start and end an
abstract, page chrome, and the thresholds that tell prose from navigation.

No logic lives here. The cues are the general shapes of article pages (PubMed, PMC, BMC,
SciELO, Europe PMC, publishers, reading apps) as scrapers and "select all, copy" leave them,
newlines often lost: a heading word followed by prose, a run of capitalised links, a footer
phrase after the last sentence.
"""

from __future__ import annotations

import functools
import re

# --- section labels ------------------------------------------------------------------------------

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

WEAK_LABELS = frozenset(
    {
        "case", "cases", "patient", "patients", "presentation", "diagnosis", "diagnoses",
        "outcome", "outcomes", "intervention", "interventions", "findings", "design", "setting",
        "comment", "comments", "observation", "observations", "summary", "context", "purpose",
        "goal", "aim", "aims", "method", "result", "lesson", "lessons", "significance",
        "limitations", "interpretation", "implications", "hypothesis", "participants",
        "subjects", "measurements", "importance", "rationale",
    }
)  # fmt: skip
"""Labels that also start ordinary sentences ("Patients with…", "Diagnosis was…"): a heading
only with a colon, in capitals, or alone on a line."""

BODY_START_KINDS = frozenset({"background"})
"""A heading of this kind after abstract text starts the article body (Introduction…)."""

AFTER_CONCLUSION = frozenset(
    {
        "learning points", "learning point", "lessons", "lesson", "lessons learned",
        "lessons learnt", "key clinical message", "key clinical messages", "key messages",
        "key message", "take-home message", "take-home messages", "clinical relevance",
        "clinical significance", "significance", "what is new", "implications",
    }
)  # fmt: skip
"""Labels that may follow an abstract's conclusion; any other heading there ends it."""


def _alternation(names: list[str]) -> str:
    return "|".join(
        re.escape(name).replace(r"\ ", r"\s+").replace(r"\-", r"[-\s]?")
        for name in sorted(names, key=len, reverse=True)
    )


def _label_pattern(names: list[str]) -> re.Pattern[str]:
    return re.compile(
        r"(?P<number>(?:\d{1,2}|[IVX]{1,4})(?:\.\d{1,2})*\.?[ \t]+)?"
        rf"(?P<label>(?i:{_alternation(names)})(?:\((?:s|es)\))?)"
        r"(?![\w-])(?P<colon>[ \t]*[:：]|[ \t]*\.(?=\s)|[ \t]+[-–—](?=\s))?"
    )


LABEL = _label_pattern(list(SECTION_KINDS))
"""A section label at a position (checked further by the caller: case, what follows)."""

LABEL_PREFIXES = (
    frozenset(name[:2] for name in SECTION_KINDS)
    if all(name[:2].isascii() and name[:2].isalpha() for name in SECTION_KINDS)
    else None  # a label that starts otherwise: no shortcut
)
"""The first two letters of every label: an ASCII pair of characters not among them, in any
case, starts no label."""


@functools.cache
def labels_starting_with(prefix: str) -> re.Pattern[str]:
    """``LABEL`` with only the labels that begin with ``prefix`` (two letters of
    ``LABEL_PREFIXES``), compiled when first asked for. Where no number can open a label and
    the text starts with two ASCII letters, only these labels can match, in any case, and the
    first that does is the one ``LABEL`` finds (the same order, longest first): ``LABEL`` tries
    each of its ~130 labels, case-blind, at ~16,000 instructions a try."""
    return _label_pattern([name for name in SECTION_KINDS if name[:2] == prefix])


LABEL_START = re.compile(
    r"(?:(?<=\n)|(?<=[.!?:;)\]\"'”’][ \t])|(?<=[.!?:;)\]\"'”’][ \t]{2})|(?<=[ \t]{2})|\A)"
    r"[ \t]*(?=[A-Z0-9IVX])"
)
"""Where a heading may begin: a line start, after a sentence end, after a run of spaces."""

ABSTRACT_WORD = re.compile(
    r"(?:Abstract|ABSTRACT|Summary|SUMMARY|Structured\s+abstract|STRUCTURED\s+ABSTRACT"
    r"|Author\s+summary|AUTHOR\s+SUMMARY)(?![\w-])(?:[ \t]*[:：.](?=\s))?"
)
NOT_ABSTRACT_BEFORE = ("graphical", "visual", "video", "no")
"""The heading over an abstract (the prose test after it tells it from a navigation tab);
not after a word of ``NOT_ABSTRACT_BEFORE`` ("Graphical abstract", "No abstract…")."""

FOREIGN_ABSTRACT = re.compile(
    r"(?:RESUMO|Resumo|RESUMEN|Resumen|Résumé|RÉSUMÉ|Zusammenfassung|ZUSAMMENFASSUNG|Riassunto"
    r"|RIASSUNTO|Samenvatting|SAMENVATTING)(?![\w-])"
)
"""An abstract in another language: it ends the English one, and starts one only when the
page has no other."""

END_CUE = re.compile(
    r"(?:"
    r"(?i:key[ \t]*words?|index[ \t]+terms|palavras[-\s]chave|palabras[ \t]+clave|mots[-\s]cl[ée]s"
    r"|descritores|descriptores)(?![\w-])"
    r"|(?:PMID|PMCID|NIHMSID|DOI|doi)[ \t]*:|https?://(?:dx\.)?doi\.org/"
    r"|Copyright|COPYRIGHT|©(?=\s|\d)|\([Cc]\)[ \t]*(?:19|20)\d\d|All rights reserved|ALL RIGHTS RESERVED"
    r"|Similar articles|SIMILAR ARTICLES|Cited by|CITED BY|Publication types?|MeSH terms"
    r"|LinkOut|Full text links|FULL TEXT LINKS|Related information|Grants and funding"
    r"|Comment in|Erratum in|Update of|Retraction in|Supplemental Content|\[Indexed for MEDLINE\]"
    r"|References|REFERENCES|Bibliography|BIBLIOGRAPHY|Literature cited"
    r"|Conflicts?[ \t]+of[ \t]+[Ii]nterests?|CONFLICTS?[ \t]+OF[ \t]+INTERESTS?"
    r"|Competing[ \t]+interests?|COMPETING[ \t]+INTERESTS?|Declaration[ \t]+of[ \t]+competing"
    r"|Disclosure[ \t]+statement|Funding(?:[ \t]+(?:information|statement|sources?))?(?=[ \t]*[:\n]|[ \t]+[A-Z])"
    r"|FUNDING|Acknowledge?ments?|ACKNOWLEDGE?MENTS?|Abbreviations|ABBREVIATIONS"
    r"|Authors?['’]?[ \t]+contributions?|Ethics[ \t]+(?:approval|declarations|statement)"
    r"|Consent[ \t]+for[ \t]+publication|Availability[ \t]+of[ \t]+data|Data[ \t]+availability"
    r"|Supplementary[ \t]+(?:material|information|data)|Footnotes|Article[ \t]+notes|Article[ \t]+information"
    r"|Open[ \t]+in[ \t]+a[ \t]+separate[ \t]+window|Go[ \t]+to:|Download[ \t]+(?:PDF|citation|full)"
    r"|Cite[ \t]+this[ \t]+article|How[ \t]+to[ \t]+cite|Rights[ \t]+and[ \t]+permissions|About[ \t]+this[ \t]+article"
    r"|(?:Received|Accepted|Published|Revised)(?:[ \t]+online)?(?:[ \t]*:|[ \t]+\d)|Epub[ \t]+(?:19|20)\d\d"
    r"|This[ \t]+is[ \t]+an[ \t]+open[-\s]access|This[ \t]+article[ \t]+is[ \t]+(?:licensed|distributed|an[ \t]+open|published[ \t]+under)"
    r"|Graphical[ \t]+[Aa]bstract|GRAPHICAL[ \t]+ABSTRACT|Highlights(?=[ \t]*\n|[ \t]*$)|Peer[ \t]+Review[ \t]+reports|Open[ \t]+Peer[ \t]+Review"
    r"|Recommended[ \t]+articles|Related[ \t]+(?:articles|resources|links)|Share[ \t]+this[ \t]+article"
    r"|Figures?[ \t]+(?:&|and)[ \t]+tables|Associated[ \t]+Data|Author[ \t]+information"
    r"|This[ \t]+is[ \t]+a[ \t]+preview[ \t]+of[ \t]+subscription|Access[ \t]+this[ \t]+article"
    r"|Similar[ \t]+content[ \t]+being[ \t]+viewed|View[ \t]+on[ \t]+PubMed|Save[ \t]+to[ \t]+Library"
    r"|Figures[ \t]+from[ \t]+this[ \t]+paper"
    r")"
)
"""Cues that end an abstract where they begin a line, follow a sentence end or a run of spaces."""

CHROME_PHRASES = (
    "add like", "add dislike", "add to saved papers", "add to clipboard", "add to collections",
    "add to my bibliography", "full text links", "related resources", "mobile app image",
    "your privacy choices toggle icon", "your privacy choices", "claim now", "skip to main content",
    "skip to content", "skip to main page content", "skip to page content", "skip to navigation",
    "an official website of the united states government", "here's how you know",
    "here’s how you know", "search in pubmed", "search in pmc", "user guide", "display options",
    "send to", "free pmc article", "free full text", "page navigation", "title & authors",
    "similar articles", "cited by other articles", "publication types", "mesh terms",
    "related information", "linkout - more resources", "full text sources", "affiliations expand",
    "item in clipboard", "author information", "article notes", "copyright and license information",
    "pmc disclaimer", "other formats", "links to ncbi databases", "journal list", "services on demand",
    "scielo analytics", "article in xml format", "article references", "how to cite this article",
    "automatic translation", "related links", "search life-sciences literature",
    "citations & impact", "share this article", "impact metrics", "explore journals",
    "get published", "about bmc", "peer review reports", "cite this article", "metrics details",
    "download pdf", "view pdf", "show full outline", "add to mendeley", "get rights and content",
    "author links open overlay panel", "we have located links that may give you full text access.",
    "we have located links that may give you full text access", "can't access the paper?",
    "can’t access the paper?", "for the best experience, use the read mobile app",
    "get seemless 1-tap access through your institution/university",
    "try logging in through your university/institutional subscription", "show more", "show less",
    "sign in to ncbi", "sign out", "my ncbi", "my account", "log in", "login", "sign in",
    "open access", "advertisement", "requires javascript to function", "requires javascript",
    "open in a separate window", "recent activity", "table of contents", "submission guidelines",
    "download citation", "you can now claim free cme credits for this literature search",
    "all material on this website is protected by copyright", "by using this service, you agree",
    "this website also contains material copyrighted by 3rd parties",
    "scielo - scientific electronic library online", "europe pmc", "search pmc full-text archive",
    "click here for correspondence address and email", "click here",
    "see other articles in pmc that cite the published article", "copyright notice",
    "publisher's disclaimer", "publisher’s disclaimer", "email author", "view orcid profile",
    "the publisher's final edited version of this article is available at", "open peer review",
    "find articles by", "i have read and accept", "date of web publication", "enter search term", "search term",
    "the publisher’s final edited version of this article is available at",
    "this is a preview of subscription content", "log in via an institution", "access this article",
    "buy article pdf", "rent this article", "institutional subscriptions",
    "similar content being viewed by others", "share with email", "share with twitter",
    "share with facebook", "share with linkedin", "orcids linked to this article",
)  # fmt: skip
"""Site chrome that stands between the parts of a page whose newlines were lost (lower case;
a space matches any run of whitespace)."""


def _trie(phrases: tuple[str, ...]) -> str:
    """One regular expression for many phrases, their shared prefixes factored out: the regex
    engine then rejects most positions at the first character (a flat alternation tries every
    phrase at every position, about 50 times slower on a 20 KB page)."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for phrase in phrases:
        node = root
        for character in phrase:
            node = node.setdefault(character, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
        branches = [
            (r"\s+" if character == " " else re.escape(character)) + build(child)
            for character, child in sorted(node.items())
            if character
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


_CHROME_BODY = r"(?:" + _trie(CHROME_PHRASES) + r"|\d+\s+(?:accesses|citations))(?![\w-])"
CHROME_PHRASE = re.compile(r"\b" + _CHROME_BODY)
"""Matched against the lower-cased page (see ``prose.lowered``)."""
CHROME_AFTER = re.compile(r"\W" + _CHROME_BODY)
"""A chrome phrase with the character before it, which ``\\b`` requires to be a non-word
character: past a text's first character, the phrases ``CHROME_PHRASE`` finds. Searched, it
skips to the next non-word character, where a pattern that opens with ``\\b`` is tried at every
position (a third fewer instructions)."""

CHROME_SENTENCE_PHRASES = (
    "cited by other articles", "this article has been cited", "copyright", "all rights reserved",
    "creative commons", "licensed under", "permits unrestricted use", "requires javascript",
    "we use cookies", "this site uses cookies", "this website uses cookies", "privacy policy",
    "terms of use", "source of support", "conflict of interest", "conflicts of interest",
    "terms and conditions",
)  # fmt: skip
"""Phrases that make a whole sentence chrome (a licence or copyright line, a site notice), lower
case; so does "©" before a space or a digit."""

_LETTERS_BY_FREQUENCY = "etaoinshrdlcumwfgypbvkjxqz"
"""The letters of English text, commonest first."""


def _from_rarest_letter(phrases: tuple[str, ...]) -> str:
    """One pattern that finds whether any of ``phrases`` occurs, each found from its rarest
    letter: the regex engine skips to the next "v", "k", "j", "b"… (a few in a hundred
    characters), where an alternation that opens with each phrase's first letter is tried at
    nearly every "c", "t", "a", "p"… The letter is matched, the phrase before it looked at behind
    and the rest matched after it, so a match says that a phrase occurs, not where it starts."""
    by_letter: dict[str, list[str]] = {}
    for phrase in phrases:
        rank = [_LETTERS_BY_FREQUENCY.find(character) for character in phrase]
        index = rank.index(max(rank))
        before = f"(?<={re.escape(phrase[: index + 1])})" if index else ""
        by_letter.setdefault(phrase[index], []).append(before + re.escape(phrase[index + 1 :]))
    return "|".join(
        f"{re.escape(letter)}(?:{'|'.join(rests)})" for letter, rests in sorted(by_letter.items())
    )


CHROME_SENTENCE = re.compile(_from_rarest_letter(CHROME_SENTENCE_PHRASES) + r"|©(?=\s|\d)")
"""Whether a chrome sentence phrase occurs (``.search`` on the lower-cased page: the match is
only an answer, its span is not where the phrase starts)."""

# --- telling prose from navigation --------------------------------------------------------------

WORD = re.compile(r"[^\W\d_][\w'’-]*")
SENTENCE_STOP = re.compile(r"[.!?](?<=[A-Za-z0-9)\]%\"'”’][.!?])(?=[\s\"'”’)\]]|$)")
"""The stop of a sentence end: ".", "!" or "?" after a letter, a digit or a closing mark, before
whitespace, a closing mark or the end. It opens with the stop, so a search skips from stop to
stop, and looks back at the character before it, which must lie in the searched range too:
search through ``prose.sentence_end`` and ``prose.sentence_ends``."""
PROSE_WINDOW = 320
"""Characters read after a heading to decide whether prose follows."""
PROSE_MIN_WORDS = 8
PROSE_MIN_LOWER = 0.7
"""Share of words inside sentences (not a sentence's first word) that start in lower case:
case texts ≥ 0.76 (1st percentile of E3C), titles ≈ 0.3, navigation, author lists and
contents lists ≈ 0.3."""
PROSE_MIN_FUNCTION = 0.12
"""Share of words that are function words ("the", "of", "with"…): sentences ≈ 0.35 (E3C's
1st percentile 0.2, telegraphic case texts), navigation and contents lists ≈ 0.1."""
FUNCTION_WORDS = frozenset(
    """a an the of in on at to for from with without by as and or but than that which who whom
    whose this these those is are was were be been being has have had do does did not no we
    our he she his her him they their it its there after before during into over under
    between while when where because although if then also""".split()
)
PROSE_MIN_LOWER_HEAD = 0.6
"""The same over the first dozen words, so a contents list cannot borrow the title after it."""

MAX_ABSTRACT = 6000
"""An abstract with no end cue on a page with chrome is cut near this many characters."""
MIN_WORDS = 6
"""Fewer words than this is too little to summarise."""
SHORT_ABSTRACT = 250
"""Below this many characters an abstract is reported with low confidence."""
SUPPLEMENT_MAX = 1200
"""Most characters taken from the article body when the abstract does not describe a patient."""

NAV_WORDS = frozenset(
    """actions cite collections share search advanced clipboard pdf permalink copy resources
    google scholar article articles english portuguese spanish submit manuscript free read
    use under creative commons license licence open access menu home about login log sign
    register journal journals metrics details download view full text links email save send
    print display options user guide help figures references tables sections outline similar
    cited related information linkout more export citation citations formats html epub xml
    navigation page contents expand collapse show hide cookies privacy policy terms
    subscribe alerts rss twitter facebook linkedin tools services demand analytics
    indicators translation automatic h5m5 issue volume next previous back top mendeley
    rights content account books skip main accesses altmetric abstract summary authors
    author affiliations notes disclaimer introduction background discussion conclusion
    conclusions methods results presentation declarations consent acknowledgements funding
    conflict interest interests statement keywords abbreviations supplementary material
    availability competing""".split()
)
"""Words of site navigation: a block made mostly of them is chrome, never a title."""
PRE_ABSTRACT = re.compile(
    r"(?<![\w-])(?:Highlights|HIGHLIGHTS|Graphical\s+abstract|GRAPHICAL\s+ABSTRACT|Key\s+points"
    r"|KEY\s+POINTS|Research\s+highlights)(?![\w-])(?![ \t]*[-:]?[ \t]*[a-z])"
)
"""Blocks that sit between the title and the abstract (their lines are never the title)."""
ENGLISH_WORDS = frozenset("""the of a an in with and after for to on as by from at is""".split())
OTHER_WORDS = frozenset(
    """de em com como da do das dos na no nos el la las los en y con para por del um uma une le
    les des et du au una que se pelo pela sobre entre sin sur dans avec""".split()
)
"""Frequent short words of English and of the other languages of translated titles."""

# --- the lines around the title ------------------------------------------------------------------

CITATION = re.compile(
    r"\b(?:19|20)\d{2}\b[^\n]{0,40}?;\s*\d+(?:\s*\(\s*[\w-]+\s*\))?\s*:\s*[A-Za-z]?\d+"
    r"|\b(?:19|20)\d{2}\s*,\s*\d+(?:\s*\(\s*[\w-]+\s*\))?\s*:\s*[A-Za-z]?\d+"
    r"|\bvol(?:ume)?\.?\s*\d+|\barticle\s+(?:number|no\.?)\s*:?\s*\d"
    r"|\b(?:doi|pmid|pmcid|issn)\b|https?://|www\.|@|\bet al\b",
    re.I,
)
AFFILIATION = re.compile(
    r"\b(?:department|departament\w*|dept\.?|universit\w*|universidad|universidade|hospital\w*|institut\w*"
    r"|school\s+of|college|faculty|faculdade|facultad|clinic|center\s+for|centre|professor"
    r"|resident|lecturer|fellow|consultant|program(?:me)?\s+in|m\.?d\.?\s*,|ph\.?d"
    r"|laborat\w*|division\s+of|unit\s+of|medical\s+center|correspond\w*|e-?mail|phone|tel|fax)\b",
    re.I,
)
DATE_LINE = re.compile(
    r"\s*(?:\d+\s*)?(?:received|accepted|published|revised|epub|ecollection|issue date|online)\b"
    r"|\s*(?:\d{1,2}\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?:\d{1,2},?\s+)?(?:19|20)\d\d\W*$"
    r"|\s*(?:19|20)\d\d\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s+\d{1,2})?\W*$",
    re.I,
)
TITLE_CUT = re.compile(
    r"(?:PMID|PMCID|NIHMSID|DOI|doi)\s*:\s*\S+|https?://\S+"
    r"|(?:Published|Received|Accepted|Revised|Epub|First\s+published)(?:\s+online)?\s*:?\s*"
    r"(?:\d{1,2}\s+[A-Z][a-z]+\.?\s+\d{4}|(?:19|20)\d{2}(?:\s+[A-Z][a-z]{2}\.?(?:\s+\d{1,2})?)?)\.?"
    r"|eCollection\s+\d{4}(?:\s+[A-Z][a-z]{2})?\.?"
    r"|(?:19|20)\d{2}[^;\n]{0,20};\s*\d+(?:\s*\(\s*[\w-]+\s*\))?\s*:\s*[\w-]+\.?"
    r"|\(\s*(?:19|20)\d{2}\s*\)"
)
"""Citation, identifier and date tokens: a block boundary after each on a collapsed page."""
TITLE_CUT_BEFORE = re.compile(
    r"(?:Journal\s+of|International\s+Journal|BMC|Case\s+Reports\s+in|Clin\s+Case\s+Rep)\s+(?=[A-Z])"
)
"""Journal names glued before a title on a collapsed page (a block boundary before each;
the patterns start with a literal word so the regex engine skips to them)."""
AUTHOR_MARK = re.compile(r"\d+(?:,\d+)*\*?(?=\s+[A-ZÀ-Ý])|\d(?=[A-ZÀ-Ý][a-zà-ÿ]+)")
"""Affiliation numbers glued to an author's name ("Inventado1 Ana…") or to an affiliation
("2Universidade…"): block boundaries on a collapsed page."""
ARTICLE_TYPE = re.compile(
    r"(?:Case\s+[Rr]eports?|CASE\s+REPORTS?|Original\s+[Aa]rticle|Research\s+[Aa]rticle"
    r"|Review\s+[Aa]rticle|Clinical\s+[Ii]mage)(?=\s+[A-Z])"
)
CLINICAL = re.compile(
    r"\b(?:patient|present|admi[st]|diagnos|treat|therap|surg|symptom|disease|syndrome|lesion|infect"
    r"|fever|pain|exam|history|reveal|show|biops|imag|tumou?r|clinic|hospital|man|woman|boy|girl|infant"
    r"|child|\d+[- ]year|month-old|male|female|vomit|nause|diarrh|cough|headache|rash|bleed|weak"
    r"|dyspn|serum|blood|level|laborator|scan|ultraso|mmol|mg|discharg|recover|resol|complain|refer"
    r"|brought|drug|medica|dose|injur|fractur|acute|chronic|case|pregnan|deliver|birth|neurolog"
    r"|cardi|pulmon|renal|hepat|cancer|carcinom|infarct|stroke|investigat|physician|therap)\w*",
    re.I,
)
"""Stems of clinical prose: a page with no "Abstract" heading yields its first prose only if
that prose is clinical (a journal's "about" paragraph is not an abstract)."""
MIN_CLINICAL = 2
FINITE_VERB = re.compile(
    r"\b(?:was|were|is|are|had|has|have|presented|developed|underwent|showed|revealed|received"
    r"|describe|we|our|she|he)\b",
    re.I,
)
"""Words that make a line a sentence rather than a title."""
