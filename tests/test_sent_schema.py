"""The schema as a model is sent it: equivalent for validation, each rule stated once.

- The sent schema (``backends.sent_schema``: no titles or defaults, single-use definitions
  inlined, nullable types as type lists) accepts exactly the records the full pydantic
  schema accepts: both judge the gold records (turned into case records), records made by
  the rules backend from the gold inputs, and every variant of a few of them that breaks
  one value a different way (a key dropped, a null, a wrong type, a number out of bounds,
  an unknown enum value…). So does the schema a grammar compiler gets back
  (``split_type_lists``).
- One source for every rule: a prompt's system message states the conventions of every
  record (evidence, not reported, negative findings), the field descriptions state what
  is particular to one field, and neither repeats the other or itself.
- Snapshots of the sent tool schemas, so a description change is a visible diff (update
  with ``UPDATE_SNAPSHOTS=1``, as for the rendered prompts).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from summarizer import Settings, Summarizer
from summarizer.backends.adapters import split_type_lists
from summarizer.backends.chat import (
    INSTRUCTOR_MODES,
    RequestSpec,
    build_requests,
    sent_model_schema,
)
from summarizer.backends.stages import stage_model
from summarizer.render import available_versions, load_prompt, render
from summarizer.schema import CaseReport
from tests.conftest import ROOT, seed_record
from tests.test_render import check_snapshot, seed_abstract

GOLD = ROOT / "evals" / "gold"


# --- the records judged -------------------------------------------------------------------


def _from_gold(expected: dict[str, Any]) -> dict[str, Any]:
    """A gold record's expected values as a case record (gold leaves out the evidence
    quotes and the summary; they are filled with text, which the schema cannot check)."""
    record = copy.deepcopy(expected)
    record.setdefault("article_type", "case_report")
    record["summary"] = "A short summary."
    if isinstance(record.get("patient"), dict):
        record["patient"] = {
            key: value for key, value in record["patient"].items() if value is not None
        }
        record["patient"]["evidence"] = "a quote"
    for name in (
        "presentation",
        "history",
        "clinical_findings",
        "diagnostic_assessment",
        "interventions",
        "outcomes",
    ):
        for item in record.get(name) or []:
            item["evidence"] = "a quote"
    if isinstance(record.get("diagnosis"), dict):
        record["diagnosis"]["evidence"] = "a quote"
        if record["diagnosis"].get("differential") is None:
            record["diagnosis"].pop("differential", None)
    for name in ("why_reported", "conclusion"):
        if isinstance(record.get(name), str):
            record[name] = {"text": record[name], "evidence": "a quote"}
    return record


def gold_records() -> list[dict[str, Any]]:
    return [
        _from_gold(json.loads(path.read_text(encoding="utf-8"))["expected"])
        for path in sorted(GOLD.glob("*.json"))
    ]


def rules_records() -> list[dict[str, Any]]:
    with Summarizer(Settings(backend="rules"), cache=None, run_log=None) as summarizer:
        return [
            summarizer.summarize(path).record.model_dump(mode="json")
            for path in sorted((ROOT / "evals" / "inputs").glob("*.txt"))
        ]


WRONG_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, 10**7, "x", "", True, [], ["x"], [{}], {})


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _changed(record: Any, path: tuple[Any, ...], change: Any) -> Any:
    record = copy.deepcopy(record)
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    change(parent, path[-1])
    return record


def variants(record: dict[str, Any]) -> Iterator[Any]:
    """``record``, then the record with one value broken, in every way, at every path."""
    yield record
    yield [record]
    yield {**record, "unknown": 1}
    for path in _paths(record):
        if not path:
            continue
        yield _changed(record, path, lambda parent, key: parent.pop(key))
        for wrong in WRONG_VALUES:
            yield _changed(record, path, lambda parent, key, wrong=wrong: _set(parent, key, wrong))
        yield _changed(record, path, lambda parent, key: _set(parent, key, "not_an_enum_value"))
        yield _changed(record, path, lambda parent, key: _set(parent, key, 200))
        yield _changed(record, path, lambda parent, key: _append(parent, key))


def _set(parent: Any, key: Any, value: Any) -> None:
    parent[key] = value


def _append(parent: Any, key: Any) -> None:
    if isinstance(parent[key], list):
        parent[key].append({"evidence": "q"})
    elif isinstance(parent[key], dict):
        parent[key]["extra"] = None


def _stage_part(record: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(record, dict):
        return record
    return {key: value for key, value in record.items() if key in fields or key == "unknown"}


@pytest.fixture(scope="module")
def records() -> dict[str, list[Any]]:
    gold, rules = gold_records(), rules_records()
    richest = sorted(rules, key=lambda record: -len(json.dumps(record)))[:3]
    broken = [variant for base in [seed_record(), gold[0], *richest] for variant in variants(base)]
    return {"gold": gold, "rules": rules, "broken": broken}


def _models() -> list[tuple[str, type[Any], tuple[str, ...] | None]]:
    stages = load_prompt("v2").metadata["stages"]
    return [("CaseReport", CaseReport, None)] + [
        (stage["name"], stage_model(tuple(stage["fields"]), stage["name"]), tuple(stage["fields"]))
        for stage in stages
    ]


@pytest.mark.parametrize(("name", "model", "fields"), _models(), ids=[m[0] for m in _models()])
def test_the_sent_schema_judges_every_record_as_the_full_schema_does(
    name: str, model: type[Any], fields: tuple[str, ...] | None, records: dict[str, list[Any]]
) -> None:
    full = Draft202012Validator(model.model_json_schema())
    sent_schema = sent_model_schema(model)
    Draft202012Validator.check_schema(sent_schema)
    lean = Draft202012Validator(sent_schema)
    split = Draft202012Validator(split_type_lists(sent_schema))
    verdicts = {True: 0, False: 0}
    seen: set[str] = set()
    for kind, batch in records.items():
        for record in batch:
            judged = record if fields is None else _stage_part(record, fields)
            key = json.dumps(judged, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            expected = full.is_valid(judged)
            assert lean.is_valid(judged) is expected, (kind, judged)
            assert split.is_valid(judged) is expected, (kind, judged)
            verdicts[expected] += 1
    # both verdicts are well represented: the comparison is not all one way
    assert verdicts[True] > 40 and verdicts[False] > 200, verdicts


def test_every_gold_and_rules_record_is_valid(records: dict[str, list[Any]]) -> None:
    full = Draft202012Validator(CaseReport.model_json_schema())
    for record in records["gold"] + records["rules"]:
        assert full.is_valid(record), record
        CaseReport.model_validate(record)


def test_the_sent_schema_has_no_titles_defaults_or_single_use_definitions() -> None:
    sent = sent_model_schema(CaseReport)
    text = json.dumps(sent)
    assert '"title": {' in text  # the property named title is kept…
    assert not re.search(r'"title": "', text)  # …the title annotations are not
    assert '"default"' not in text
    assert list(sent.get("$defs", {})) == ["Statement"]  # why_reported and conclusion
    assert text.count('"$ref"') == 2


# --- one source for every rule ------------------------------------------------------------

CONVENTIONS = {"evidence", "negative"}
"""Fields whose rule is one every record follows, stated once in each system prompt."""
UNDESCRIBED = {
    "evidence": "the system prompt's evidence rule",
    "negative": "the system prompt's negative findings (Finding: nothing more to say)",
    "description": "the list's own description (Symptom, Finding)",
    "name": "the list's own description (DiagnosticTest)",
    "result": "the list's own description (DiagnosticTest)",
    "kind": "its enum's values (Intervention)",
    "diagnosis": "its final field's description",
}
"""Properties left without a description, and where their meaning is said instead."""


def _descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("description"), str):
            yield node["description"]
        for key, value in node.items():
            if key not in ("enum", "required"):
                yield from _descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item)


def _properties(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield from (node.get("properties") or {}).items()
        for key, value in node.items():
            if key not in ("enum", "required"):
                yield from _properties(value)
    elif isinstance(node, list):
        for item in node:
            yield from _properties(item)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def _grams(text: str, size: int) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def _system(version: str) -> str:
    return render(seed_abstract(), version).messages[0]["content"]


def test_every_property_is_described_once() -> None:
    """A property has a description, or its meaning is said once elsewhere (UNDESCRIBED);
    and no description is there twice (pydantic repeated the evidence rule nine times)."""
    sent = sent_model_schema(CaseReport)
    for name, node in _properties(sent):
        assert "description" in node or name in UNDESCRIBED, name
    descriptions = list(_descriptions(sent))
    assert len(descriptions) == len(set(descriptions)), "a description is repeated"


@pytest.mark.parametrize("version", available_versions())
def test_the_system_prompt_states_no_field_rule(version: str) -> None:
    """Field rules live in the field descriptions: the system prompt names no field but
    the conventions, and shares no run of five words with any description."""
    system = _system(version)
    names = {name for name, _ in _properties(CaseReport.model_json_schema())}
    for name in names - CONVENTIONS:
        if "_" in name:
            assert name not in system, f"{version}/system.j2 states a rule for {name}"
        assert not re.search(rf"^\W*{name}\s*:", system, re.M | re.I), (version, name)
    assert not re.search(r"\b[a-z]+\.[a-z_]+\b", system), f"{version}: a field path"
    system_grams = _grams(system, 5)
    for description in _descriptions(sent_model_schema(CaseReport)):
        shared = system_grams & _grams(description, 5)
        assert not shared, f"{version}: {description!r} is also in the system prompt"


def test_the_conventions_are_in_every_system_prompt_and_no_description() -> None:
    for version in available_versions():
        words = set(_words(_system(version)))
        assert {"evidence", "abstract", "null"} <= words, version
    for name, node in _properties(sent_model_schema(CaseReport)):
        if name in CONVENTIONS and name != "evidence":
            # Finding's negative means what the system prompt says: no description
            assert node.get("description") is None or "true" in _words(node["description"])
    generic = [d for d in _descriptions(sent_model_schema(CaseReport)) if "verbatim" in d.lower()]
    assert generic == [], "the evidence rule is back in a description"


def test_a_stage_question_listing_an_enum_lists_all_of_it() -> None:
    """v2's questions (for local models, which see no schema text) name enum values; a
    value added to the schema must reach the question too."""
    prompt = load_prompt("v2")
    enums: list[list[str]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list):
                enums.append([str(value) for value in node["enum"]])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(CaseReport.model_json_schema())
    for name, text in prompt.templates.items():
        words = set(_words(text))
        for values in enums:
            named = [value for value in values if value in words]
            if len(named) >= 2 and set(values) != {"female", "male", "other", "not_reported"}:
                assert set(named) == set(values), (name, sorted(set(values) - set(named)))


# --- snapshots of what is sent ------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_sent_tools_snapshot(version: str) -> None:
    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES["tools"], share_stage_tools=True)
    (first, *rest) = build_requests(render(seed_abstract(), version), spec)
    assert all(request.body["tools"] == first.body["tools"] for request in rest)
    check_snapshot(
        f"{version}-tools.json",
        json.dumps(first.body["tools"], indent=1, ensure_ascii=False) + "\n",
    )


def test_stages_offer_every_tool_only_where_a_shared_prefix_is_free() -> None:
    """OpenAI and Azure bill every token: each stage sends its own tool. A self-hosted
    server (a base URL elsewhere) reuses the shared prefix: every stage offers them all."""
    from summarizer.backends.openai_compat import request_spec

    prompt = render(seed_abstract(), "v2")
    billed = build_requests(prompt, request_spec(Settings(backend="openai", api_key="k")))
    assert [len(request.body["tools"]) for request in billed] == [1] * 5
    assert [r.body["tools"][0]["function"]["name"] for r in billed] == [
        r.body["tool_choice"]["function"]["name"] for r in billed
    ]
    local = Settings(backend="openai", base_url="http://127.0.0.1:8080/v1", model="m")
    shared = build_requests(prompt, request_spec(local))
    assert all(request.body["tools"] == shared[0].body["tools"] for request in shared)
    assert len(shared[0].body["tools"]) == 5


@pytest.mark.parametrize("mode", ["json", "md_json"])
def test_the_json_modes_write_the_sent_schema_compactly(mode: str) -> None:
    """instructor writes the schema into the system message, indented; the request
    carries the sent schema there instead, without spaces (a third of the tokens)."""
    from summarizer.backends.adapters import model_schema
    from summarizer.backends.sent_schema import compact_json

    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode])
    (request,) = build_requests(render(seed_abstract(), "v1"), spec)
    system = request.body["messages"][0]["content"]
    assert compact_json(sent_model_schema(CaseReport)) in system
    assert json.dumps(model_schema(CaseReport), indent=2, ensure_ascii=False) not in system
    staged = build_requests(render(seed_abstract(), "v2"), spec)
    for stage in staged:  # a stage's schema follows its question: the prefix stays shared
        system, user = (message["content"] for message in stage.body["messages"])
        assert system == staged[0].body["messages"][0]["content"]
        model = stage_model(*_stage(stage.stage))
        assert user.index("Question:") < user.index(compact_json(sent_model_schema(model)))


def _stage(name: str | None) -> tuple[tuple[str, ...], str]:
    for stage in load_prompt("v2").metadata["stages"]:
        if stage["name"] == name:
            return tuple(stage["fields"]), stage["name"]
    raise AssertionError(name)
