"""Statements about groups of people, which the rules backend must not read as the patient:
"…occurs in middle-aged and elderly individuals", "a predilection for males over 50 years
of age", "a male predominance". A case report says them in its background and conclusion;
the ages and sexes in them are a population's.

Three cues:
- a *population sentence* speaks of who a disease affects in general (``population``);
- a *bare plural* ("males", "elderly women", not "the two women") names people in general
  (``bare_plural``, ``bare_plural_before``), where a determiner or a count names the text's
  own patients;
- "male" or "female" before a word of statistics ("a male predilection") is no person
  (``sex_word_of_statistics``).
"""

from __future__ import annotations

import re

__all__ = [
    "bare_plural",
    "bare_plural_before",
    "plural_noun_at",
    "population",
    "qualified_by_age",
    "sex_word_of_statistics",
]

_PLURAL_PEOPLE = (
    r"(?:males|females|men|women|boys|girls|patients|individuals|people|persons|subjects|"
    r"adults|children|adolescents|teenagers|infants|neonates|newborns)"
)
_GENERAL_PEOPLE = rf"(?:{_PLURAL_PEOPLE}|(?:the\s+)?(?:elderly|young))"
# How a text says who a disease affects in general, in the present tense ("occurs in",
# "affects women"): the past tense ("occurred", "affected") tells the case's own story.
_POPULATION = re.compile(
    r"\b(?:predilection|predominance|preponderance|propensity|prevalence|incidence|"
    r"(?:more|most|less|least)\s+(?:common(?:ly)?|frequent(?:ly)?|often|prevalent|likely)|"
    r"(?:common|frequent|prevalent|rare)\s+(?:in|among)|"
    r"(?:commonly|frequently|typically|usually|mainly|mostly|predominantly|primarily|"
    r"generally|classically|preferentially)\s+(?:\w+\s+)?(?:in|among|affects?|occurs?|"
    r"seen|found|diagnosed|presents?|develops?|involves?)|"
    rf"(?:affects|affecting|afflicts|occurs|occurring)\s+(?:[\w-]+\s+){{0,3}}?{_GENERAL_PEOPLE})\b",
    re.IGNORECASE,
)
# Between a plural and the age that qualifies it: "males over 50", "women, aged 40".
_AGE_CONNECTOR = (
    r"\s*,?\s+(?:(?:aged|over|above|under|below|beyond|older than|younger than|between|of|from|"
    r"in (?:the|their)|at|around|about|after|before)\s+)?"
)
_PLURAL_BEFORE_AGE = re.compile(rf"\b(?P<noun>{_PLURAL_PEOPLE}){_AGE_CONNECTOR}$", re.IGNORECASE)
_CONNECTS_AGE = re.compile(_AGE_CONNECTOR, re.IGNORECASE)
_PLURAL_NOUN = re.compile(rf"\b{_PLURAL_PEOPLE}\b", re.IGNORECASE)
# What names the text's own patients before a plural: a determiner, a count, "a pair of",
# "twin girls".
_SPECIFIC = frozenset(
    """a an the these those our both all each two three four five six seven eight nine ten
    eleven twelve several pair couple twin twins triplet triplets""".split()
)
# "…cases of female patients aged 40 and 63": a report's own patients.
_REPORTED_OF = frozenset("case cases series report reports".split())
# Ages listed one by one ("men aged 67 and 60", "aged 40, 52 and 63") are of individuals;
# a group's is a bound or a range ("over 50", "aged 18-65").
_LISTED_AFTER = re.compile(
    r"\s*(?:(?:years?|yrs?|months?)(?:\s+old|\s+of\s+age)?\s*)?(?:,|and|&)\s*\d", re.IGNORECASE
)
# Where the noun phrase of a plural begins: a preposition, a verb, a conjunction.
_PHRASE_OPENS = frozenset(
    """in for among of with to by from affects affect affecting involves involve involving
    occurs occur including especially particularly mainly mostly predominantly typically
    usually commonly frequently than and or but as between is are""".split()
)
_STATISTICS_AFTER = re.compile(
    r"(?:\s+|-)(?:to-(?:fe)?male|predilection|predominance|preponderance|prevalence|"
    r"preference|bias|dominance|majority|excess|ratio|sex\s+ratio|gender\s+ratio)\b",
    re.IGNORECASE,
)


def population(sentence: str) -> bool:
    """Whether a sentence speaks of who a disease affects in general."""
    return _POPULATION.search(sentence) is not None


def bare_plural(text: str, start: int) -> bool:
    """Whether the plural that begins at ``start`` is bare ("in elderly women"), not the
    text's own patients ("the two women", "both men", "4 patients"): read back over its
    adjectives to where its noun phrase opens."""
    words = text[max(0, start - 80) : start].split()[-5:]
    for index in range(len(words) - 1, -1, -1):
        word = words[index]
        bare = word.lower().strip(",;:()[]\"'“”")
        if bare in _SPECIFIC or bare[:1].isdigit():
            return False
        if bare == "of" and index and words[index - 1].lower() in _REPORTED_OF:
            return False
        if bare in _PHRASE_OPENS or word.endswith((",", ";", ":", "(")) or not bare:
            return True
    return True


def bare_plural_before(text: str, start: int, end: int) -> bool:
    """Whether the age text[start:end] qualifies a bare plural just before it ("males over
    50 years of age", "individuals aged 60"): the age of a group, unless several are listed
    one by one ("men aged 67 and 60")."""
    found = _PLURAL_BEFORE_AGE.search(text, max(0, start - 60), start)
    return (
        found is not None
        and bare_plural(text, found.start("noun"))
        and not _LISTED_AFTER.match(text, end)
    )


def plural_noun_at(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a plural people noun ("males", "women")."""
    return _PLURAL_NOUN.fullmatch(text, start, end) is not None


def qualified_by_age(text: str, noun_end: int, age_start: int) -> bool:
    """Whether the age at ``age_start`` directly qualifies the noun that ends at ``noun_end``
    ("men aged 67 and 60")."""
    return _CONNECTS_AGE.fullmatch(text, noun_end, age_start) is not None


def sex_word_of_statistics(text: str, end: int) -> bool:
    """Whether the "male"/"female" that ends at ``end`` qualifies a word of statistics
    ("a male predilection", "a female-to-male ratio"), not a person."""
    return _STATISTICS_AFTER.match(text, end) is not None
