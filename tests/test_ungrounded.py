"""List items whose evidence is not in the abstract: re-asked, then dropped into
``provenance.dropped`` (or kept with ``keep_ungrounded``); repeated items merged.

Against the scripted OpenAI-compatible server: the answers are exact, so are the checks.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from summarizer import Settings, Summarizer
from summarizer.cache import ResponseCache
from summarizer.ground import UNGROUNDED, Aligner, DroppedItem, prune
from summarizer.output.markdown import render_markdown
from summarizer.output.webpage import render_html
from summarizer.results import Result, dropped_warning
from summarizer.schema import CaseReport
from tests.conftest import SEED, closed_after_test, seed_record
from tests.openai_server import ScriptedServer, answer
from tests.test_cli import run
from tests.test_openai_backend import make as openai_summarizer

REAL = seed_record()["presentation"][0]
INVENTED = {
    "description": "fever and night sweats",
    "negative": False,
    "duration": "3 weeks",
    "evidence": "she reported fever and night sweats for three weeks",
}


def with_presentation(*items: dict[str, Any]) -> dict[str, Any]:
    return seed_record(presentation=list(items))


def make(server: ScriptedServer, **changes: object) -> Summarizer:
    """The scripted server's summarizer with one re-ask (two attempts)."""
    return openai_summarizer(server, **{"validation_attempts": 2, **changes})


def test_fabricated_list_quote_is_reasked_then_dropped(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    fabricated = with_presentation(REAL, INVENTED)
    scripted_server.enqueue(answer(fabricated), answer(fabricated))
    result = make(scripted_server).summarize(seed_text)

    # re-asked once with the error, then accepted on the last attempt…
    assert len(scripted_server.requests) == 2
    reask = scripted_server.requests[1].text
    assert INVENTED["evidence"] in reask and "not found in the abstract" in reask
    # …and the ungrounded item left the record, kept in provenance with its field and why
    assert [item.description for item in result.record.presentation] == [REAL["description"]]
    assert result.provenance.dropped == [
        DroppedItem(field="presentation", item=INVENTED, reason=UNGROUNDED)
    ]
    assert result.provenance.merged == 0
    assert dropped_warning(1) in result.provenance.warnings
    assert dropped_warning(1).startswith("1 fact dropped: evidence not found in the abstract")
    assert all(span.status.value != "unaligned" for span in result.evidence)
    assert "presentation[1]" not in {span.field for span in result.evidence}

    written = result.to_dict()["provenance"]
    assert written["dropped"] == [{"field": "presentation", "item": INVENTED, "reason": UNGROUNDED}]
    assert Result.from_dict(json.loads(json.dumps(result.to_dict()))).provenance.dropped == (
        result.provenance.dropped
    )


def test_keep_ungrounded_keeps_todays_behaviour(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    fabricated = with_presentation(REAL, INVENTED)
    scripted_server.enqueue(answer(fabricated), answer(fabricated))
    result = make(scripted_server, keep_ungrounded=True).summarize(seed_text)
    assert len(scripted_server.requests) == 2  # the re-ask happens all the same
    assert [item.evidence for item in result.record.presentation] == [
        REAL["evidence"],
        INVENTED["evidence"],
    ]
    assert result.provenance.dropped == []
    statuses = {span.field: span.status.value for span in result.evidence}
    assert statuses["presentation[1]"] == "unaligned"
    assert "1 evidence quote(s) not found in the abstract" in result.provenance.warnings
    assert not any("dropped" in warning for warning in result.provenance.warnings)


def test_repeated_identical_items_are_merged(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    respaced = {**REAL, "description": "  Right-sided   numbness and PAIN "}
    scripted_server.enqueue(answer(with_presentation(REAL, REAL, respaced)))
    result = make(scripted_server).summarize(seed_text)
    assert len(scripted_server.requests) == 1  # every quote is found: nothing to re-ask
    assert len(result.record.presentation) == 1
    assert result.record.presentation[0].description == REAL["description"]  # the first kept
    assert result.provenance.merged == 2
    assert result.provenance.dropped == []
    assert "2 repeated item(s) merged" in result.provenance.warnings


def test_repeated_ungrounded_items_are_merged_then_dropped_once(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    fabricated = with_presentation(INVENTED, INVENTED, INVENTED)
    scripted_server.enqueue(answer(fabricated), answer(fabricated))
    result = make(scripted_server).summarize(seed_text)
    assert result.record.presentation == []
    assert result.provenance.merged == 2
    assert [item.item for item in result.provenance.dropped] == [INVENTED]


def test_a_scalar_with_an_unfound_quote_is_kept_unaligned(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    """Only list items are dropped: a diagnosis without support stays, marked."""
    invented = seed_record(
        diagnosis={"final": "sarcoma", "differential": [], "evidence": "an invented diagnosis"}
    )
    scripted_server.enqueue(answer(invented), answer(invented))
    result = make(scripted_server).summarize(seed_text)
    assert result.record.diagnosis is not None and result.record.diagnosis.final == "sarcoma"
    assert result.provenance.dropped == []
    statuses = {span.field: span.status.value for span in result.evidence}
    assert statuses["diagnosis"] == "unaligned"


def test_a_cached_answer_is_pruned_the_same_way(
    scripted_server: ScriptedServer, seed_text: str, tmp_path: Path
) -> None:
    """The cache keeps the model's answer; dropping is applied on every read, so
    ``keep_ungrounded`` needs no new call."""
    fabricated = with_presentation(REAL, INVENTED)
    scripted_server.enqueue(answer(fabricated), answer(fabricated))
    cache = ResponseCache(tmp_path / "cache.sqlite")
    settings = make(scripted_server).settings
    first = closed_after_test(Summarizer(settings, cache=cache)).summarize(seed_text)
    again = closed_after_test(Summarizer(settings, cache=cache)).summarize(seed_text)
    kept_settings = settings.replace(keep_ungrounded=True)
    kept = closed_after_test(Summarizer(kept_settings, cache=cache)).summarize(seed_text)
    assert len(scripted_server.requests) == 2  # the two reads were cache hits
    assert again.provenance.cache_hit and kept.provenance.cache_hit
    assert again.provenance.dropped == first.provenance.dropped != []
    assert len(kept.record.presentation) == 2 and kept.provenance.dropped == []


def test_prune_leaves_a_grounded_record_as_it_is(seed_text: str) -> None:
    record = CaseReport.model_validate(seed_record())
    pruned = prune(record, Aligner(Summarizer(Settings(backend="rules")).prepare(seed_text).text))
    assert pruned.record is record and pruned.dropped == [] and pruned.merged == 0


# -- the views say how many facts were dropped --------------------------------------


def dropped_result(server: ScriptedServer, seed_text: str) -> Result:
    other = {**INVENTED, "description": "weight loss", "evidence": "she had lost 10 kg"}
    fabricated = with_presentation(REAL, INVENTED, other)
    server.enqueue(answer(fabricated), answer(fabricated))
    return make(server).summarize(seed_text)


def test_markdown_card_says_how_many_facts_were_dropped(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    card = render_markdown(dropped_result(scripted_server, seed_text))
    assert (
        "**Evidence:** 7 of 7 quotes found in the abstract (100%; the quotes, not the values, "
        "are checked)  \n"
        "**Dropped:** 2 facts whose evidence was not found in the abstract "
        "(listed under *Dropped facts*)\n"
    ) in card
    assert "## Dropped facts" in card
    assert (
        "- Presentation: fever and night sweats (duration 3 weeks) — "
        "“she reported fever and night sweats for three weeks”"
    ) in card
    assert "- Presentation: weight loss (duration 3 weeks) — “she had lost 10 kg”" in card
    assert f"- warning: {dropped_warning(2)}" in card.replace("\\", "")


def test_html_page_says_how_many_facts_were_dropped(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    page = render_html(dropped_result(scripted_server, seed_text))
    assert "<b>Dropped:</b> 2 facts whose evidence was not found in the abstract" in page
    assert '<h3 id="dropped">Dropped facts</h3>' in page
    assert "fever and night sweats (duration 3 weeks)" in page
    assert "“she had lost 10 kg”" in page


def test_views_say_nothing_when_nothing_was_dropped(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    scripted_server.enqueue(answer(seed_record()))
    result = make(scripted_server).summarize(seed_text)
    assert "Dropped" not in render_markdown(result)
    assert "Dropped" not in render_html(result)


# -- the command line ---------------------------------------------------------------


def cli(server: ScriptedServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        "summarize", str(SEED), "--base-url", server.url, "--model", "scripted-model",
        "--validation-attempts", "1", "--no-cache", "--no-log", *args,
    )  # fmt: skip


def test_cli_drops_by_default_and_keeps_with_keep_ungrounded(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.fallback = lambda request: answer(with_presentation(REAL, INVENTED))
    dropped = cli(scripted_server)
    kept = cli(scripted_server, "--keep-ungrounded")
    assert dropped.returncode == kept.returncode == 0, dropped.stderr + kept.stderr
    by_default = json.loads(dropped.stdout)
    assert len(by_default["record"]["presentation"]) == 1
    assert by_default["provenance"]["dropped"][0]["item"] == INVENTED
    assert dropped_warning(1) in by_default["provenance"]["warnings"]
    keeping = json.loads(kept.stdout)
    assert len(keeping["record"]["presentation"]) == 2
    assert keeping["provenance"]["dropped"] == []


def test_cli_markdown_says_how_many_were_dropped(scripted_server: ScriptedServer) -> None:
    scripted_server.fallback = lambda request: answer(with_presentation(REAL, INVENTED))
    done = cli(scripted_server, "-f", "md")
    assert done.returncode == 0, done.stderr
    assert "**Dropped:** 1 fact whose evidence was not found in the abstract" in done.stdout
