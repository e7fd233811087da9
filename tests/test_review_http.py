"""The review app over real HTTP (uvicorn on 127.0.0.1): every endpoint, and every guard —
the token, the change header, cross-origin and cross-site posts, the Host header; an
invalid edit is refused with a message and changes nothing; record text is escaped."""

from __future__ import annotations

import html as htmllib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from summarizer.review.app import CSP, build_app
from summarizer.review.server import bind
from summarizer.review.session import ReviewSession
from tests.review_helpers import BIDI_PAGE, copy_records, make_records, read_lines, run_cli

PLANTED = '<script>document.title="pwned"</script>'


class Served:
    """A review app served by uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, session: ReviewSession) -> None:
        sock = bind(0)
        self.port = sock.getsockname()[1]
        app, self.review = build_app(session, port=self.port)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = self.review.token

    @contextmanager
    def client(self, *, login: bool = True) -> Iterator[httpx.Client]:
        """A browser-like client; ``login``: it opened the printed URL (has the cookie)."""
        with httpx.Client(base_url=self.base, timeout=20) as client:
            if login:
                response = client.get(f"/?token={self.token}")
                assert response.status_code == 303
            yield client

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_records(tmp_path_factory.mktemp("records"))


@pytest.fixture
def served(template: Path, tmp_path: Path) -> Iterator[Served]:
    records = copy_records(template, tmp_path)
    lines = read_lines(records)
    lines[0]["record"]["title"] = f"Planted {PLANTED} title"
    lines[0]["abstract"]["text"] += f"\n\nPlanted {PLANTED} text"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    session = ReviewSession(records)
    server = Served(session)
    yield server
    server.stop()
    session.close()


def change(
    client: httpx.Client, token: str, path: str, payload: dict[str, Any], **headers: str
) -> httpx.Response:
    sent = {"Content-Type": "application/json", "X-Review-Token": token, **headers}
    return client.post(path, content=json.dumps(payload), headers=sent)


def field_url(record_id: str, field: str) -> str:
    return f"/api/records/{quote(record_id, safe='')}/fields/{field}"


# --------------------------------------------------------------------------- the token


def test_the_printed_url_sets_a_strict_cookie_and_drops_the_token(served: Served) -> None:
    with served.client(login=False) as client:
        response = client.get(f"/?token={served.token}")
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert f"review-token-{served.port}={served.token}" in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        home = client.get("/")  # the page opens on the first record to do
        first = served.review.session.queue()[0][0].id
        assert (home.status_code, home.headers["location"]) == (303, f"/records/{first}")


@pytest.mark.parametrize("path", ["/", "/queue", "/records/bmc-jmcr", "/api/records/bmc-jmcr"])
def test_every_page_needs_the_token(served: Served, path: str) -> None:
    with served.client(login=False) as client:
        response = client.get(path)
        assert response.status_code == 403
        assert "token" in response.text
        assert "Delayed diagnosis" not in response.text
        wrong = client.get(f"{path}?token=not-the-token")
        assert wrong.status_code == 403


def test_a_change_without_the_token_is_refused(served: Served) -> None:
    payload = {"action": "save", "value": "Stolen", "version": 0}
    with served.client(login=False) as stranger:
        response = change(stranger, served.token, field_url("bmc-jmcr", "title"), payload)
        assert response.status_code == 403  # the header alone is not enough: no cookie
    with served.client() as client:
        for headers in ({"X-Review-Token": ""}, {"X-Review-Token": "guessed"}):
            response = change(
                client, served.token, field_url("bmc-jmcr", "title"), payload, **headers
            )
            assert response.status_code == 403
            assert "X-Review-Token" in response.json()["error"]
        assert client.get("/api/records/bmc-jmcr").json()["version"] == 0


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"Origin": "http://evil.invalid"}, 403, "cross-origin"),
        ({"Origin": "null"}, 403, "cross-origin"),
        ({"Sec-Fetch-Site": "cross-site"}, 403, "cross-site"),
        ({"Sec-Fetch-Site": "same-site"}, 403, "cross-site"),
        ({"Content-Type": "text/plain"}, 415, "application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ],
)
def test_cross_origin_and_form_posts_are_refused(
    served: Served, headers: dict[str, str], status: int, message: str
) -> None:
    with served.client() as client:
        payload = {"action": "save", "value": "Forged", "version": 0}
        response = change(client, served.token, field_url("bmc-jmcr", "title"), payload, **headers)
        assert response.status_code == status
        assert message in response.json()["error"]
        assert client.get("/api/records/bmc-jmcr").json()["version"] == 0


def test_a_foreign_host_header_is_refused(served: Served) -> None:
    with served.client() as client:
        rebound = client.get("/queue", headers={"Host": f"attacker.invalid:{served.port}"})
        assert rebound.status_code == 403
        assert "unknown host" in rebound.json()["error"]
        local = client.get("/queue", headers={"Host": f"localhost:{served.port}"})
        assert local.status_code == 200  # the same server by its other loopback name


# --------------------------------------------------------------------------- pages


def test_queue_page_filters_and_searches(served: Served) -> None:
    with served.client() as client:
        page = client.get("/queue")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["cache-control"] == "no-store"
        assert page.text.count('<tr class="row') == 3
        assert f'content="{served.token}"' in page.text  # the page's own script sends it
        found = client.get("/queue", params={"q": "syncope"})
        assert found.text.count('<tr class="row') == 1 and "pubmed-structured" in found.text
        missing = client.get("/queue", params={"reason": "missing"})
        assert missing.text.count('<tr class="row') == 3
        none = client.get("/queue", params={"reason": "unaligned"})
        assert "No record matches" in none.text
        todo = client.get("/queue", params={"status": "done"})
        assert "No record matches" in todo.text


def test_record_page_escapes_record_and_abstract_text(served: Served) -> None:
    with served.client() as client:
        page = client.get("/records/bmc-jmcr")
        assert page.status_code == 200
        assert PLANTED not in page.text
        assert page.text.count("&lt;script&gt;document.title=") >= 3  # title, heading, input, text
        assert '<script src="/static/review.js" defer></script>' in page.text
        assert page.text.count("<script") == 1  # only our own, from /static
        assert client.get("/").headers["location"] == "/records/bmc-jmcr"  # resumes here
        assert client.get("/records/nope").status_code == 404


def test_static_files_are_served_locally(served: Served) -> None:
    with served.client(login=False) as client:
        script = client.get("/static/review.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "X-Review-Token" in script.text
        style = client.get("/static/review.css")
        assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
        assert client.get("/static/../app.py").status_code == 404
        assert client.get("/static/secret.txt").status_code == 404


# --------------------------------------------------------------------------- changes


def test_field_actions_over_http(served: Served) -> None:
    with served.client() as client:
        url = field_url("bmc-jmcr", "patient_count")
        saved = change(client, served.token, url, {"action": "save", "value": 2, "version": 0})
        assert saved.status_code == 200, saved.text
        body = saved.json()
        assert body["version"] == 1
        assert body["record"]["patient_count"] == 2
        assert body["review"]["fields"]["patient_count"]["status"] == "corrected"
        assert 'id="field-patient_count"' in body["cards"]["patient_count"]
        assert 'id="abstract"' in body["abstract_html"]
        steps = [("accept", "corrected"), ("clear", "unreviewed"), ("reject", "rejected")]
        for version, (action, status) in enumerate(steps, 1):
            done = change(client, served.token, url, {"action": action, "version": version})
            assert done.status_code == 200, done.text
            assert done.json()["review"]["fields"]["patient_count"]["status"] == status
        reset = change(client, served.token, url, {"action": "reset", "version": 4})
        assert reset.json()["record"]["patient_count"] == 1
        record = client.get("/api/records/bmc-jmcr").json()
        assert record["version"] == 5
        assert record["review"]["fields"]["patient_count"]["status"] == "unreviewed"


def test_evidence_offsets_over_http(served: Served) -> None:
    with served.client() as client:
        text = read_lines(served.review.session.records_path)[0]["abstract"]["text"]
        start = text.index("Ethiopian woman")
        patient = client.get("/api/records/bmc-jmcr").json()["record"]["patient"]
        patient["evidence"] = "Ethiopian woman"
        payload = {
            "action": "save",
            "value": patient,
            "version": 0,
            "offsets": {"patient": [start, start + 15]},
        }
        body = change(client, served.token, field_url("bmc-jmcr", "patient"), payload).json()
        assert f'data-start="{start}"' in body["cards"]["patient"]
        assert 'data-paths="patient"' in body["abstract_html"]


def test_an_invalid_edit_gets_a_message_and_changes_nothing(served: Served) -> None:
    with served.client() as client:
        before = client.get("/api/records/bmc-jmcr").json()
        cases = [
            ("article_type", "cohort", "article_type: Input should be"),
            ("patient_count", "many", "patient_count: Input should be a valid integer"),
            ("summary", "", "summary: summary must not be empty"),
            ("nonsense", 1, "unknown field"),
        ]
        for field, value, message in cases:
            payload = {"action": "save", "value": value, "version": 0}
            response = change(client, served.token, field_url("bmc-jmcr", field), payload)
            assert response.status_code == 422, response.text
            assert message in response.json()["error"]
        for payload in (
            {"action": "save", "version": 0},
            {"action": "launch", "version": 0},
            {"action": "accept"},
            {"action": "accept", "version": "0"},
        ):
            response = change(client, served.token, field_url("bmc-jmcr", "title"), payload)
            assert response.status_code == 422
        broken = client.post(
            field_url("bmc-jmcr", "title"),
            content="{not json",
            headers={"Content-Type": "application/json", "X-Review-Token": served.token},
        )
        assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
        assert client.get("/api/records/bmc-jmcr").json() == before


def test_a_stale_version_is_a_conflict(served: Served) -> None:
    with served.client() as first, served.client() as second:
        url = field_url("bmc-jmcr", "title")
        ok = change(first, served.token, url, {"action": "save", "value": "First", "version": 0})
        assert ok.status_code == 200
        late = change(
            second, served.token, url, {"action": "save", "value": "Second", "version": 0}
        )
        assert late.status_code == 409
        assert "another tab" in late.json()["error"]
        assert first.get("/api/records/bmc-jmcr").json()["record"]["title"] == "First"


def test_done_and_unknown_records(served: Served) -> None:
    with served.client() as client:
        done = change(
            client, served.token, "/api/records/europepmc/done", {"done": True, "version": 0}
        )
        assert done.status_code == 200 and done.json()["review"]["status"] == "done"
        first = served.review.session.queue()[0][0].id
        assert done.json()["next_url"] == f"/records/{first}"  # the first record to do
        again = change(
            client, served.token, "/api/records/europepmc/done", {"done": True, "version": 1}
        )
        assert again.json()["version"] == 1  # already done: no change
        bad = change(
            client, served.token, "/api/records/europepmc/done", {"done": "yes", "version": 1}
        )
        assert bad.status_code == 422
        missing = change(
            client, served.token, field_url("nope", "title"), {"action": "accept", "version": 0}
        )
        assert missing.status_code == 404
        assert client.get("/api/records/nope").status_code == 404
        queue = client.get("/queue", params={"status": "done"})
        assert queue.text.count('<tr class="row') == 1


def test_a_line_without_abstract_says_so_plainly(template: Path, tmp_path: Path) -> None:
    lines = read_lines(template)
    del lines[0]["abstract"]
    records = tmp_path / "old.jsonl"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    session = ReviewSession(records)
    server = Served(session)
    try:
        with server.client() as client:
            page = client.get("/records/bmc-jmcr")
            assert "The abstract text is missing." in page.text
            assert 'id="field-title"' in page.text  # the fields can still be edited
            queue = client.get("/queue", params={"reason": "no_abstract"})
            assert queue.text.count('<tr class="row') == 1
    finally:
        server.stop()
        session.close()


def test_control_and_bidi_characters_show_and_keep_offsets(tmp_path: Path) -> None:
    page = tmp_path / "odd.txt"
    page.write_text(BIDI_PAGE, encoding="utf-8")
    records = tmp_path / "records.jsonl"
    run_cli("summarize", page, "-f", "jsonl", "-o", records)
    text = read_lines(records)[0]["abstract"]["text"]
    assert "\u202e" in text and "\x07" in text  # the cleaner keeps them; the page must cope
    session = ReviewSession(records)
    server = Served(session)
    try:
        with server.client() as client:
            html = client.get("/records/odd").text
            assert "\u202e" not in html and "\x07" not in html
            assert "[U+202E]gnp.exe[U+202C]" in html.replace(
                'data-c="202e" class="ctl" title="U+202E">', ""
            )
            # the pieces give the true text back: data-o offsets and data-c characters
            pieces = re.findall(r'<(?:span|mark) [^>]*data-o="(\d+)"([^>]*)>(.*?)</', html, re.S)
            rebuilt = ""
            for start, attributes, shown in pieces:
                assert int(start) == len(rebuilt)
                code = re.search(r'data-c="([0-9a-f]+)"', attributes)
                rebuilt += chr(int(code[1], 16)) if code else htmllib.unescape(shown)
            assert rebuilt == text
            # a title sent back as shown keeps its character: unchanged, so no change at all
            title = client.get("/api/records/odd").json()["record"]["title"]
            shown_title = title.replace("\u202e", "[U+202E]").replace("\u202c", "[U+202C]")
            payload = {"action": "save", "value": shown_title, "version": 0}
            body = change(client, server.token, field_url("odd", "title"), payload).json()
            assert body["record"]["title"] == title
            assert body["version"] == 0
            assert body["review"]["fields"]["title"]["status"] == "unreviewed"
            edited = dict(payload, value=shown_title + " (checked)")
            body = change(client, server.token, field_url("odd", "title"), edited).json()
            assert body["record"]["title"] == title + " (checked)"  # the character kept
    finally:
        server.stop()
        session.close()


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
        (
            b'{"action": "save", "version": 0, "value": ' + b"[" * 400_000 + b"]" * 400_000 + b"}",
            "nests deeper",
        ),
        (
            b'{"action": "save", "version": 0, "value": ' + b"[" * 40 + b"]" * 40 + b"}",
            "nests deeper",
        ),
        (
            b'{"action": "save", "version": 0, "value": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
            "nests deeper",
        ),
        (b"\xff\xfe not utf-8", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"NaN", "must be a JSON object"),
    ],
)
def test_a_body_it_cannot_parse_is_400_with_one_line(
    served: Served, body: bytes, message: str
) -> None:
    with served.client() as client:
        headers = {"Content-Type": "application/json", "X-Review-Token": served.token}
        for path in (field_url("bmc-jmcr", "title"), "/api/records/bmc-jmcr/done"):
            response = client.post(path, content=body, headers=headers)
            assert response.status_code == 400, response.text
            assert message in response.json()["error"]
            assert "Traceback" not in response.text and "\n" not in response.json()["error"]
        assert client.get("/api/records/bmc-jmcr").json()["version"] == 0
        too_big = client.post(
            field_url("bmc-jmcr", "title"), content=b" " * 1_000_001, headers=headers
        )
        assert too_big.status_code == 413 and "too large" in too_big.json()["error"]


def test_every_change_says_how_long_the_server_took(served: Served) -> None:
    with served.client() as client:
        response = change(
            client, served.token, field_url("bmc-jmcr", "title"), {"action": "accept", "version": 0}
        )
        assert response.status_code == 200
        timing = response.headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d\d", timing)
        refused = change(
            client, served.token, field_url("bmc-jmcr", "title"), {"action": "accept", "version": 0}
        )
        assert refused.status_code == 409 and "server-timing" in refused.headers


# --------------------------------------------------------------------------- the loop


def test_the_stats_page_and_api(served: Served) -> None:
    with served.client() as client:
        url = field_url("bmc-jmcr", "title")
        change(client, served.token, url, {"action": "accept", "version": 0})
        change(
            client,
            served.token,
            field_url("bmc-jmcr", "summary"),
            {"action": "reject", "version": 1},
        )
        page = client.get("/stats")
        assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
        assert "rules rules" in page.text and "95 % interval" in page.text
        assert '<svg class="bar"' in page.text and "style=" not in page.text  # CSP: no inline style
        data = client.get("/api/stats").json()
        (group,) = data["groups"]
        rows = {row["field"]: row for row in group["fields"]}
        assert (rows["title"]["accepted"], rows["summary"]["rejected"]) == (1, 1)
        assert rows["all fields"]["reviewed"] == 2 and rows["all fields"]["accuracy"] == 0.5
        with served.client(login=False) as stranger:
            assert stranger.get("/stats").status_code == 403
            assert stranger.get("/api/stats").status_code == 403


def test_reasons_and_flags_are_answered_with_every_change(served: Served) -> None:
    with served.client() as client:
        patient = client.get("/api/records/bmc-jmcr").json()["record"]["patient"]
        patient["age_text"] = "68-year-old"
        body = change(
            client,
            served.token,
            field_url("bmc-jmcr", "patient"),
            {"action": "save", "value": patient, "version": 0},
        ).json()
        assert "Check the evidence:" in body["cards"]["patient"]
        assert "age 68 years: the evidence reads" in body["cards"]["patient"]
        assert body["review"]["unsupported"]["patient"]
        assert "missing fields" in body["reasons_html"]
        assert set(body["looks"]) <= set(body["record"]) and "decision" in body["decision_html"]
        page = client.get("/records/bmc-jmcr").text
        assert "Check the evidence:" in page
        assert "no model (the rules baseline)" in page
