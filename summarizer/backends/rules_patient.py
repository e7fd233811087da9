"""Who the case is about, for the rules backend: whether a text describes a patient at all,
which mention is the patient (not a relative, not the mother of a newborn), the age at
presentation, the sex, and how many patients the text reports.

Everything works on sentence spans ``(start, end)`` of one text, so the evidence quotes it
returns are verbatim slices of that text, and every quote starts and ends on a word boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..ages import AgeMention, find_ages, number_value
from ..schema import Patient, Sex
from .rules_groups import (
    bare_plural,
    bare_plural_before,
    plural_noun_at,
    population,
    qualified_by_age,
    sex_word_of_statistics,
)

__all__ = [
    "MAX_PATIENT_COUNT",
    "describes_patient",
    "find_patient",
    "patient_count",
    "word_span",
]

Span = tuple[int, int]

MAX_PATIENT_COUNT = 1000
"""A count above this reads as a study population, not patients described one by one."""

_RELATIVE = (
    r"(?:mother|father|parents?|sisters?|brothers?|siblings?|sons?|daughters?|husband|wife|"
    r"spouse|partner|grandmother|grandfather|grandparents?|aunt|uncle|cousins?|niece|nephew|"
    r"relatives?)"
)
_MALE = (
    r"man|men|male|males|boy|boys|gentleman|widower|gelding|stallion|colt|bull|boar|tomcat|"
    r"varón|hombre|niño|homme|garçon|mann|junge|un adolescent|un patient"
)
_FEMALE = (
    r"woman|women|female|females|girl|girls|lady|widow|housewife|mare|filly|bitch|cow|heifer|ewe|sow|hen|"
    r"primigravida|multigravida|gravida|primipara|multipara|nulliparous|pregnant|postmenopausal|"
    r"mujer|niña|femme|fille|frau|mädchen|patiente|patientin|paciente femenina|une adolescente"
)
_SEX_NOUN = re.compile(rf"\b(?:(?P<male>{_MALE})|(?P<female>{_FEMALE}))\b", re.IGNORECASE)
_PRONOUN = re.compile(
    r"\b(?:(?P<male>he|him|his|himself)|(?P<female>she|her|hers|herself))\b", re.I
)
_PERSON = (
    r"(?:patient|man|woman|boy|girl|infant|neonate|newborn|child|baby|toddler|adolescent|"
    r"teenager|adult|gentleman|lady|male|female|primigravida|multigravida|farmer|worker|athlete)"
)
# A singular person introduced by an article: "a 21-year-old male", "the patient", "our patient".
_SINGULAR = re.compile(
    rf"\b(?:a|an|the|this|our|one)\s+(?:[\w-]+,?\s+){{0,3}}?(?:{_PERSON}|women|men)\b(?!['’]s\b)",
    re.IGNORECASE,
)
# Words that say the text reports a case of its own (not "a few case reports" in a background).
_CASE_CUE = re.compile(
    rf"\bcase (?:report|series)\b|\b(?:a|this|our) case of\b|\bour (?:case|patient)\b|"
    rf"\b(?:we|this report|(?:the )?authors)\s+(?:\w+\s+)?(?:report|present|describe|discuss)\w*\s+"
    rf"[^.;]{{0,80}}?\b(?:cases?|{_PERSON}|patients|men|women|children|infants|siblings)\b|"
    r"\b(?:[Cc]ase|[Pp]atient)\s+(?:1|one|A)\b",
    re.IGNORECASE,
)
_PAST_VERBS = (
    r"(?:was|were|had|presented|developed|underwent|received|complained|died|recovered|noticed|"
    r"sought|came|visited|attended|suffered|experienced|showed|required|remained|denied)"
)
# A case is told as a story of what happened: a clinical verb in the past (or the narrative
# present: "presents", "undergoes"), where a review or a guideline speaks in general terms.
_NARRATIVE = re.compile(
    rf"\b(?:{_PAST_VERBS}|performed|treated|sustained|diagnosed|admitted|referred|revealed|"
    r"found|given|started|presents|undergoes|develops|sustains)\b",
    re.IGNORECASE,
)
_SUBJECT_PRONOUN = re.compile(rf"(?:^|[.;]\s+)(?:She|He)\s+(?:\w+\s+)?{_PAST_VERBS}\b", re.M)
_STUDY = re.compile(
    r"\b(?:randomi[sz]ed|controlled trial|cohort study|cross-sectional|meta-analysis|"
    r"systematic review|retrospective(?:ly)? (?:study|analysis|review) of \d+|we enrolled|"
    r"participants)\b",
    re.IGNORECASE,
)
_POSSESSIVE_BEFORE = re.compile(
    r"(?:\b(?:his|her|their|whose|its)|['’]s)\s+(?:[\w-]+\s+)?$", re.IGNORECASE
)
_BORN_TO_BEFORE = re.compile(r"\b(?:born|delivered)\s+(?:\w+\s+){0,6}?to\s+(?:a|an|the)\s+$", re.I)
_RELATIVE_AFTER = re.compile(
    rf"^[\s,-]*(?:[\w-]+\s+){{0,2}}?{_RELATIVE}\b(?!\s+of\b)", re.IGNORECASE
)
_RELATIVE_BEFORE = re.compile(rf"\b{_RELATIVE}\s*,\s*(?:a|an)\s+$", re.IGNORECASE)
# An age range: "aged 18-65", "7- to 17-year-old", "from 34 to 75 years of age".
_RANGE_AFTER = re.compile(r"\s*(?:-|–|to)\s*\d")
_RANGE_BEFORE = re.compile(
    r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten))\s*(?:-|–)?\s*(?:to|-|–)\s*$"
    r"|(?:±|\+/-|\+-)\s*$",  # a mean's spread ("47.1 ± 3.1 years old")
    re.IGNORECASE,
)
_PRESENTED = re.compile(
    r"\b(?:present(?:ed|s|ing)?|admitted|referred|brought|seen|evaluated|hospitali[sz]ed|came|"
    r"visited|consulted)\b(?P<gap>[^.;]*)$",
    re.IGNORECASE,
)
# A verb in the gap means the age belongs to another event ("presented ... diagnosed at 49").
_OTHER_EVENT = re.compile(
    r"\b(?:diagnosed|underwent|had|has|developed|was|were|treated|since|after|before|until|when|"
    r"received|started|began)\b",
    re.IGNORECASE,
)
_WINDOW_STOP = re.compile(
    r"[,;:()\[\]]|\b(?:who|whose|which|that|with|was|is|were|had|has|presented|born|to|from|"
    r"and|but)\b",
    re.IGNORECASE,
)
_NEXT_WORD = re.compile(r"\W*\w+")
# The article that opens the patient's noun phrase: "a 45-year-old", "the immunocompetent neonate".
_ARTICLE_BEFORE = re.compile(r"\b(?:an?|the)\s+(?:[\w-]+\s+){0,2}$", re.IGNORECASE)
# What names one person before an age in a sentence about a population ("…usually affects
# the elderly; our 45-year-old patient…", "a man aged 50", "she was 30").
_ONE_PERSON_BEFORE = re.compile(
    r"(?:\b(?:an?|our|this)\s+(?:[\w-]+\s+){0,2}|\b(?:he|she)\b[^.;]*|"
    r"\b(?:patient|man|woman|boy|girl|child|infant|baby|lady|gentleman|male|female)\b,?\s+"
    r"(?:aged\s+)?)$",
    re.IGNORECASE,
)
_NUMBER_WORD = r"(?:\d{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_THE_BEFORE = re.compile(r"\bthe\s+$", re.IGNORECASE)
_NUMBER_BEFORE = re.compile(rf"\b{_NUMBER_WORD}\s+$", re.IGNORECASE)
# A sex in apposition to the patient's noun: "a child, male, aged 7", "an infant (female)".
_APPOSED_SEX = re.compile(
    r"\s*(?:,|\()\s*(?:sex\s*:?\s*|gender\s*:?\s*)?(?:(?P<male>male|man|boy)|"
    r"(?P<female>female|woman|girl))\s*(?=[,;:)]|\s+(?:aged|of|\d|who|with|was|presented)\b)",
    re.IGNORECASE,
)
_PERSON_NOUN_AFTER = re.compile(rf"^[\s-]*(?:[\w-]+\s+){{0,3}}?{_PERSON}\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Found:
    mention: AgeMention
    offset: int
    """Where the mention's sentence starts in the text (mention spans are sentence-relative)."""

    @property
    def start(self) -> int:
        return self.offset + self.mention.start

    @property
    def end(self) -> int:
        return self.offset + self.mention.end


def word_span(text: str, start: int, end: int) -> Span:
    """``(start, end)`` widened to whole words, so a quote never starts or ends mid-word."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


def _is_relative(sentence: str, mention: AgeMention) -> bool:
    before = sentence[: mention.start]
    if _POSSESSIVE_BEFORE.search(before) or _BORN_TO_BEFORE.search(before):
        return True
    if _RELATIVE_BEFORE.search(before):
        return True
    # "a 20-year-old mother", "his 9-year-old sister"; but the sentence's own subject
    # ("A 30-year-old mother of two presented ...") is the patient.
    if _RELATIVE_AFTER.match(sentence, mention.end):
        return bool(before.strip() and not re.fullmatch(r"\s*(?:an?|the)\s*", before, re.I))
    return False


def _is_group(sentence: str, mention: AgeMention) -> bool:
    """One end of an age range ("aged 18-65", "7- to 17-year-old males"): the ages of a
    group, not of a person. Ages listed one by one ("32 and 49-year-old men") are kept."""
    return bool(
        _RANGE_AFTER.match(sentence, mention.end)
        or _RANGE_BEFORE.search(sentence, max(0, mention.start - 12), mention.start)
    )


def _is_population(sentence: str, mention: AgeMention) -> bool:
    """The age of people in general, not of the patient: one that qualifies a bare plural
    ("males over 50 years of age"), or, in a sentence about who a disease affects, one that
    no singular noun phrase introduces ("…occurs in the fifth decade")."""
    if bare_plural_before(sentence, mention.start, mention.end):
        return True
    if not population(sentence):
        return False
    lower = mention.text.lower()
    if lower.startswith(("in his", "in her")):
        return False
    floor = max(0, mention.start - 60)
    if _ONE_PERSON_BEFORE.search(sentence, floor, mention.start):
        return False
    # "the 45-year-old patient" is one person; "the fifth decade", "the age of 40" are not
    return not (
        mention.years is not None
        and not mention.event
        and lower.endswith("old")
        and _THE_BEFORE.search(sentence, floor, mention.start)
    )


def _presentation_age(sentence: str, mention: AgeMention) -> bool:
    """An event age that is the age at presentation ("presented at the age of 3")."""
    found = _PRESENTED.search(sentence[: mention.start])
    return bool(found and not _OTHER_EVENT.search(found["gap"]))


def _mentions(text: str, span: Span) -> list[_Found]:
    """The ages in one sentence that may be the patient's (not a relative's, not a range)."""
    start, end = span
    sentence = text[start:end]
    return [
        _Found(mention, start)
        for mention in find_ages(sentence)
        if not _is_relative(sentence, mention)
        and not _is_group(sentence, mention)
        and not _is_population(sentence, mention)
    ]


def _choose(text: str, spans: Sequence[Span]) -> tuple[_Found, Span] | None:
    """The age at presentation: the first descriptive age; an age at a past event only
    when there is no other; within the chosen sentence, a later "presented at the age of N"
    wins over the age the text names the patient by ("a now four-year-old boy").

    Reads sentence by sentence and stops at the first descriptive age."""
    first_event: tuple[_Found, Span] | None = None
    for span in spans:
        sentence = text[span[0] : span[1]]
        found = _mentions(text, span)
        for index, item in enumerate(found):
            if item.mention.event and not _presentation_age(sentence, item.mention):
                first_event = first_event or (item, span)
                continue
            for later in found[index + 1 :]:
                if (
                    later.mention.event
                    and later.mention.years is not None
                    and _presentation_age(sentence, later.mention)
                ):
                    return later, span
            return item, span
    return first_event


def _noun_sex(match: re.Match[str]) -> Sex:
    return Sex.male if match["male"] else Sex.female


def _near_sex(text: str, sentence: Span, start: int, end: int) -> tuple[Sex, Span] | None:
    """Sex from the noun phrase around an age: the head noun after it ("62-year-old man"),
    a sex in apposition ("a 6-year-old child, male,"), else a noun just before it ("a male
    newborn", "girl, 25-year-old"), never a group's ("a predilection for males, … in a
    50-year-old")."""
    inside = list(_SEX_NOUN.finditer(text, start, end))  # "a man of 33", "33-year man"
    if inside:
        return _noun_sex(inside[-1]), inside[-1].span()
    window_end = min(sentence[1], end + 60)
    after = text[end:window_end]
    stop = _WINDOW_STOP.search(after)
    after = after[: stop.start()] if stop else after
    for match in _SEX_NOUN.finditer(after):
        if len(after[: match.start()].split()) <= 5 and not sex_word_of_statistics(
            text, end + match.end()
        ):
            return _noun_sex(match), (end + match.start(), end + match.end())
    person = _PERSON_NOUN_AFTER.match(after)
    apposed = _apposed_sex(text, end + (person.end() if person else 0), window_end)
    if apposed is not None:
        return apposed
    before_start = max(sentence[0], start - 45)
    before = text[before_start:start]
    cut = max(before.rfind(mark) for mark in ";:()")
    before = before[cut + 1 :]
    offset = start - len(before)
    for match in reversed(list(_SEX_NOUN.finditer(before))):
        noun_start, noun_end = offset + match.start(), offset + match.end()
        if (
            plural_noun_at(text, noun_start, noun_end)
            and bare_plural(text, noun_start)
            and not qualified_by_age(text, noun_end, start)  # "in men aged 67 and 60"
        ):
            continue  # "a predilection for males, … a 50-year-old": males in general
        if sex_word_of_statistics(text, noun_end):
            continue
        return _noun_sex(match), (noun_start, noun_end)
    return None


def _apposed_sex(text: str, position: int, limit: int) -> tuple[Sex, Span] | None:
    """A sex set off by commas or brackets right after the patient's noun ("a child, male,")."""
    found = _APPOSED_SEX.match(text, position, limit)
    if found is None:
        return None
    word = "male" if found["male"] else "female"
    return (Sex.male if found["male"] else Sex.female), found.span(word)


def _pronoun_sex(text: str) -> Sex | None:
    """The sex most pronouns give; on a tie, the first pronoun's."""
    counts = {Sex.male: 0, Sex.female: 0}
    first: Sex | None = None
    for match in _PRONOUN.finditer(text):
        sex = _noun_sex(match)
        counts[sex] += 1
        first = first or sex
    if counts[Sex.male] == counts[Sex.female]:
        return first
    return Sex.male if counts[Sex.male] > counts[Sex.female] else Sex.female


def _group_sex(text: str, start: int) -> Sex | None:
    """The sex of the text's own patients named as a group ("three cases of middle aged
    Asian females", "both men"), never of people in general ("a predilection for males"),
    nor of a series of both sexes ("3 men and 1 woman", "two female; 1 male")."""
    group: list[Sex] = []
    counted: set[Sex] = set()
    for noun in _SEX_NOUN.finditer(text, start):
        sex = _noun_sex(noun)
        if plural_noun_at(text, *noun.span()) and not bare_plural(text, noun.start()):
            group.append(sex)
        elif _NUMBER_BEFORE.search(text, max(start, noun.start() - 12), noun.start()):
            counted.add(sex)
    return group[0] if group and {*group, *counted} == {group[0]} else None


def _singular_sex(text: str, start: int = 0) -> tuple[Sex, Span] | None:
    for phrase in _SINGULAR.finditer(text, start):
        if _POSSESSIVE_BEFORE.search(text, max(0, phrase.start() - 30), phrase.start()):
            continue
        nouns = [
            noun
            for noun in _SEX_NOUN.finditer(text, phrase.start(), phrase.end())
            if not sex_word_of_statistics(text, noun.end())  # "a male predominance"
        ]
        if nouns:  # the head noun is the last: "a pregnant woman", "the male patient"
            return _noun_sex(nouns[-1]), (phrase.start(), phrase.end())
        apposed = _apposed_sex(text, phrase.end(), min(len(text), phrase.end() + 40))
        if apposed is not None:  # "a child, male, presented"
            return apposed[0], (phrase.start(), apposed[1][1])
    return None


def find_patient(text: str, spans: Sequence[Span]) -> Patient:
    """The first patient the sentences ``spans`` of ``text`` describe, read in order: age at
    presentation, sex, and a whole-word quote naming them."""
    choice = _choose(text, spans)
    if choice is None:
        whole = spans[0][0] if spans else 0
        near = _singular_sex(text, whole)
        if near is not None:
            sex, (start, end) = near
            return Patient(sex=sex, evidence=text[start:end])
        sex = _pronoun_sex(text[whole:]) or _group_sex(text, whole) or Sex.not_reported
        return Patient(sex=sex)
    chosen, sentence = choice
    start, end = chosen.start, chosen.end
    near = _near_sex(text, sentence, start, end)
    if near is not None:
        sex, noun = near
        start, end = min(start, noun[0]), max(end, noun[1])
    else:
        sex = _pronoun_sex(text[sentence[0] :]) or Sex.not_reported
    article = _ARTICLE_BEFORE.search(text, max(sentence[0], start - 40), start)
    if article:
        start = article.start()
    start, end = _first_occurrence(text, *word_span(text, start, end), limit=sentence[1])
    age_start, age_end = word_span(text, chosen.start, chosen.end)
    return Patient(age_text=text[age_start:age_end], sex=sex, evidence=text[start:end])


def _first_occurrence(text: str, start: int, end: int, *, limit: int) -> Span:
    """Extend the quote text[start:end] word by word (up to ``limit``) until its first
    occurrence in the text is this one, so that grounding finds it here and not inside an
    earlier word ("neonate" inside "neonates")."""
    while text.find(text[start:end]) != start and end < limit:
        following = _NEXT_WORD.match(text, end, limit)
        if following is None:
            break
        end = following.end()
    return start, end


def describes_patient(text: str, spans: Sequence[Span], *, title: Span | None = None) -> bool:
    """Whether ``text`` (sentences ``spans``, title ``title``) describes an individual patient
    or several reported one by one (a case), rather than a study, a review without a case,
    or no patient at all."""
    if _CASE_CUE.search(text):
        return True
    if _STUDY.search(text):
        # A study names the ages of groups ("patients aged 18-65"); a case names one person
        # by age and sex ("a 21-year-old male", "a man in his mid-40s").
        return _singular_sex(text) is not None or any(
            _near_sex(text, (0, len(text)), mention.start, mention.end)
            for mention in find_ages(text)
            if not _is_group(text, mention)
        )
    if _SINGULAR.search(text) and _NARRATIVE.search(text):
        return True  # a woman who presented, underwent...; not "managing a patient with ..."
    if _SUBJECT_PRONOUN.search(text) or any(
        not mention.event and not _is_group(text, mention) for mention in find_ages(text)
    ):
        return True
    return patient_count(text, spans, title=title) >= 2


# --- how many patients ---------------------------------------------------------------------

_COUNT_WORD = r"(?:\d{1,4}|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_COUNTED = re.compile(
    rf"\b(?P<n>{_COUNT_WORD})\s+(?P<filler>(?:[\w-]+\s+){{0,3}}?)"
    r"(?P<noun>patients|cases|adults|children|infants|neonates|newborns|siblings|brothers|sisters|"
    r"twins|men|women|boys|girls|persons|individuals|family members|cousins)\b",
    re.IGNORECASE,
)
_COUNT_RELATIVE_BEFORE = re.compile(
    r"(?:\b(?:his|her|their|whose|its|has|had|have|having)|['’]s|"
    r"\b(?:youngest|oldest|eldest|middle|first|second|third|last|one|each|none|all|both|either|any|"
    r"mother|father|parents?)\s+of(?:\s+(?:the|her|his|their))?)\s+$",
    re.IGNORECASE,
)
_LITERATURE = re.compile(
    r"\b(?:published|reported|previous(?:ly)?|prior|described|documented|similar|literature)\b",
    re.IGNORECASE,
)
_LITERATURE_AFTER = re.compile(
    r"^[^.;]*?\b(?:(?:have|has|had) been (?:reported|described|published|documented)|"
    r"in the (?:\w+ )?literature|(?:reported|described|published) (?:so far|to date|previously|in))",
    re.IGNORECASE,
)
_REPORTING_BEFORE = re.compile(
    r"\b(?:we|here(?:in)?|this (?:paper|report|article|study)|the authors)\b[^.;]*?"
    r"\b(?:report|present|describe|discuss|document|highlight|summari[sz]e|treat|manage|encounter)\w*\b[^.;]*$",
    re.IGNORECASE,
)
_REPORTED_AFTER = re.compile(
    r"^[^.;]*?\b(?:are|were|is) (?:reported|described|presented|discussed|summari[sz]ed)\b",
    re.IGNORECASE,
)
_CLINICAL_VERB = re.compile(
    r"\s+(?:were|presented|developed|had|underwent|received|complained|showed|suffered)\b",
    re.IGNORECASE,
)
# "Both patients": the text's own two, already introduced ("the two patients" may be one
# of ours and one from the literature; "both children" may be the patient's).
_BOTH = re.compile(
    r"\bboth\s+(?:of\s+(?:the|these|our)\s+)?(?:[\w-]+\s+)?(?:patients|cases|individuals)\b",
    re.IGNORECASE,
)
# Patients named as kin without a count: "the case of siblings", "a pair of brothers",
# "monozygotic twins", "a brother and sister" (two; triplets three).
_KIN_GROUP = re.compile(
    r"\b(?:a\s+(?:pair|couple|set)\s+of\s+(?:[\w-]+\s+){0,2}?(?P<paired>siblings|brothers|sisters|"
    r"twins|triplets|patients|cases|men|women|boys|girls|children|infants)|"
    r"(?P<kin>siblings|brothers|sisters|twins|triplets)|"
    r"(?:brother|sister)\s+and\s+(?:(?:a|his|her)\s+)?(?:brother|sister))\b",
    re.IGNORECASE,
)
_COUNT_SHORTLY_BEFORE = re.compile(rf"\b{_COUNT_WORD}\s+(?:[\w-]+\s+){{0,2}}$", re.IGNORECASE)
_REPORTING_VERB = re.compile(r"\b(?:report|present|describe|discuss|document)\w*\b", re.IGNORECASE)
# Between the reporting verb and the kin: the kin are then someone else's ("a woman who gave
# birth to twins", "a boy whose siblings").
_NOT_THE_REPORTED = re.compile(
    rf"\b(?:{_PERSON}|with|to|born|whose|who|had|has|have|and)\b", re.IGNORECASE
)
_TITLE_KIN_BEFORE = re.compile(
    r"(?:^|\b(?:in|of|among|affecting)\s+(?:[\w-]+\s+){0,2}?)$", re.IGNORECASE
)


def _kin_count(text: str, start: int, end: int, *, title: bool) -> int | None:
    """How many patients a title or a reporting sentence names as kin without a count."""
    for match in _KIN_GROUP.finditer(text, start, end):
        before = text[start : match.start()]
        if _COUNT_RELATIVE_BEFORE.search(before) or _POSSESSIVE_BEFORE.search(before):
            continue  # "her twin sisters", "whose siblings"
        if _LITERATURE.search(before) or _LITERATURE_AFTER.match(text, match.end(), end):
            continue  # "articles that previously have reported … in twins"
        if match["kin"] and _COUNT_SHORTLY_BEFORE.search(before):
            continue  # "two brothers": a count, read by _COUNTED
        if title:
            if not _TITLE_KIN_BEFORE.search(before):
                continue
        else:
            verbs = list(_REPORTING_VERB.finditer(before))
            if not verbs or not _REPORTING_BEFORE.search(before):
                continue
            if _NOT_THE_REPORTED.search(before, verbs[-1].end()):
                continue
        noun = (match["paired"] or match["kin"] or "").lower()
        return 3 if noun == "triplets" else 2
    return None


_ENUMERATED = re.compile(
    r"\b(?:[Cc]ase|[Pp]atient)[\s_]+(?P<n>[1-9]|[A-F])\b"
    r"(?!\s*(?:-|weeks?|days?|months?|years?|hours?|h|d|mg|%)\b)"
)


def _counts(text: str, start: int, end: int, *, title: bool) -> Iterator[tuple[int, bool]]:
    """Counts of patients that the sentence text[start:end] reports as its own, each with
    whether it is stated as the report's (a title, "We describe four adults") rather than
    only opening a sentence ("Two cases had ...", which may be part of the whole)."""
    for match in _COUNTED.finditer(text, start, end):
        value = number_value(match["n"])
        if value is None or not 2 <= value <= MAX_PATIENT_COUNT:
            continue
        before = text[start : match.start()]
        after = text[match.end() : end]
        if _COUNT_RELATIVE_BEFORE.search(before) or _LITERATURE_AFTER.match(after):
            continue
        if _LITERATURE.search(match["filler"]) or re.search(r"\bof\b", match["filler"]):
            continue  # "48 published cases", "two of the patients"
        if title or _REPORTING_BEFORE.search(before) or _REPORTED_AFTER.match(after):
            yield int(value), True
        elif not before.strip(" \t\n\"'“(") and (
            match["noun"].lower() in {"patients", "cases"} or _CLINICAL_VERB.match(after)
        ):
            yield int(value), False  # "Two patients ...", "Two boys presented ..."
    kin = _kin_count(text, start, end, title=title)
    if kin is not None:
        yield kin, True


def patient_count(text: str, spans: Sequence[Span], *, title: Span | None = None) -> int:
    """How many patients the text reports: 1 unless the title or a reporting sentence counts
    several ("a report of three cases", "We describe four adults"), or sentences open on a
    count ("Two patients presented ...") or number the patients ("Case 2", "Patient B").
    Relatives and cases from the literature do not count."""
    weak: list[int] = []
    for start, end in [title, *spans] if title else spans:
        for count, stated in _counts(text, start, end, title=(start, end) == title):
            if stated:
                return count
            weak.append(count)
    numbers = [
        int(match["n"]) if match["n"].isdigit() else ord(match["n"]) - ord("A") + 1
        for start, end in spans
        for match in _ENUMERATED.finditer(text, start, end)
    ]
    # "Case 1 ... Case 3" numbers the patients; a lone "patient 2" is something else.
    if 1 in numbers:
        weak.append(max(numbers))
    for start, end in spans:
        if _BOTH.search(text, start, end):
            weak.append(2)
    return max(weak, default=1)
