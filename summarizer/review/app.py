"""The review web app (Starlette): pages, the change API, and its guards.

Guards, every request:
- the ``Host`` header must name this server on 127.0.0.1/localhost (no DNS rebinding);
- the per-run token must be presented: the URL the command prints carries it once
  (``?token=``), which sets an HttpOnly, SameSite=Strict cookie and redirects to the
  same page without it;
- a change (POST) must also carry the token in the ``X-Review-Token`` header (the
  page's own script reads it from the page), a JSON body, and no foreign ``Origin`` or
  cross-site ``Sec-Fetch-Site``: another local user without the token, or a web page
  in the reviewer's browser, cannot post edits.

Responses carry a Content-Security-Policy that allows only this server's own script
and stylesheet (``/static/``), which are the only things served without the token.

API (JSON in, JSON out; errors are ``{"error": message}``; a body that is not a JSON
object, at any nesting depth, is 400; every answer to a change carries a
``Server-Timing: app;dur=…`` header):
- ``POST /api/records/{id}/fields/{field}`` ``{"action", "version", "value"?,
  "offsets"?, "note"?, "side"?}``, action = save | accept | reject | clear | reset | note
  (| adopt, in an adjudication: take reviewer ``side`` 0 or 1) → the field card, the
  abstract and the reasons re-rendered, the new version; 422 for an invalid edit
  (nothing changes), 409 when another tab saved first;
- ``POST /api/records/{id}/accept-all`` ``{"version"}``: accept every field not yet
  reviewed; ``POST /api/records/{id}/undo`` ``{"version"}``: undo the last change;
- ``POST /api/records/{id}/decision`` ``{"decision", "reason", "version"}``;
  ``POST /api/records/{id}/note`` ``{"note", "version"}``;
- ``POST /api/records/{id}/done`` ``{"done", "version"}`` → also ``next_url``, the next
  record to do;
- ``GET /api/records/{id}`` → the record as reviewed, its version and review block;
  ``GET /api/stats`` → ``review stats`` of this review (the page: ``/stats``).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import InputError, SummarizerError
from .fields import FIELD_NAMES
from .pages import (
    record_url,
    render_abstract,
    render_decision,
    render_field,
    render_queue,
    render_reasons,
    render_record,
    render_stats,
)
from .queue import QueueEntry
from .review_store import ConflictError, NothingToUndo, RecordReview
from .session import EditError, RecordState, ReviewSession
from .stats import review_stats

__all__ = ["ReviewApp", "build_app"]

TOKEN_PARAM = "token"
TOKEN_HEADER = "x-review-token"
MAX_BODY_BYTES = 1_000_000
MAX_DEPTH = 32
"""How deeply a change may nest (a record nests five levels; JSON parsers recurse)."""
STATIC_FILES = {"review.css": "text/css", "review.js": "text/javascript"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

Endpoint = Callable[[Request], Awaitable[Response]]


class BadBody(SummarizerError):
    """A request body that cannot be read as a change (not JSON, not an object, too deep)."""


class TooLarge(SummarizerError):
    """A request body over the size limit."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_HEADERS)


def _page(status: int, message: str) -> HTMLResponse:
    body = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Review</title>"
        "<link rel='stylesheet' href='/static/review.css'></head>"
        f"<body><main class='refused'><h1>Review</h1><p>{escape(message)}</p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


class ReviewApp:
    """The app's state: one session, this run's token, and the port it answers on."""

    def __init__(self, session: ReviewSession, *, port: int, token: str | None = None) -> None:
        self.session = session
        self.port = port
        self.token = token or secrets.token_urlsafe(32)
        self.cookie = f"review-token-{port}"  # per port: two reviews side by side keep theirs
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{host}" for host in self.hosts}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?{urlencode({TOKEN_PARAM: self.token})}"

    # -- guards ------------------------------------------------------------------
    def _has_token(self, request: Request) -> bool:
        cookie = request.cookies.get(self.cookie, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.token)

    def _refusal(self, request: Request, *, change: bool) -> Response | None:
        if request.headers.get("host", "") not in self.hosts:
            return _error(403, "unknown host: open the URL the review command printed")
        if not self._has_token(request):
            message = "this review needs its token: open the URL the review command printed"
            return _error(403, message) if change else _page(403, message)
        if change:
            header = request.headers.get(TOKEN_HEADER, "")
            if not header or not hmac.compare_digest(header, self.token):
                return _error(403, "missing or wrong X-Review-Token header")
            origin = request.headers.get("origin")
            if origin is not None and origin not in self.origins:
                return _error(403, f"cross-origin request refused (Origin {origin})")
            site = request.headers.get("sec-fetch-site")
            if site is not None and site not in ("same-origin", "none"):
                return _error(403, f"cross-site request refused (Sec-Fetch-Site {site})")
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return _error(415, "send the change as application/json")
        return None

    def page(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            given = request.query_params.get(TOKEN_PARAM)
            if given is not None and request.headers.get("host", "") in self.hosts:
                if not hmac.compare_digest(given, self.token):
                    return _page(403, "wrong token: open the URL the review command printed")
                response = RedirectResponse(request.url.path, status_code=303, headers=_HEADERS)
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict")
                return response
            refused = self._refusal(request, change=False)
            return refused or await endpoint(request)

        return guarded

    def change(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            refused = self._refusal(request, change=True)
            if refused is not None:
                return refused
            started = time.perf_counter()
            try:
                response = await endpoint(request)
            except ConflictError as error:
                response = _error(409, error.message)
            except (EditError, NothingToUndo) as error:
                response = _error(422, error.message)
            except BadBody as error:
                response = _error(400, error.message)
            except TooLarge as error:
                response = _error(413, error.message)
            except InputError as error:
                response = _error(404 if "no record" in error.message else 400, error.message)
            # the server's own time for the change (the review benchmark's latency)
            spent = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={spent:.2f}"
            return response

        return guarded

    # -- pages -------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        target = self.session.resume_at()
        url = record_url(target) if target else "/queue"
        return RedirectResponse(url, status_code=303, headers=_HEADERS)

    async def queue(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        reason = request.query_params.get("reason", "")
        status = request.query_params.get("status", "")
        everything = self.session.queue()
        rows = [pair for pair in everything if _matches(pair, query, reason, status)]
        html = render_queue(
            rows,
            token=self.token,
            total=len(everything),
            done=sum(review.done for _, review in everything),
            failures=self.session.failures,
            query=query,
            reason=reason,
            status=status,
            resume=self.session.resume_at(),
            records_name=self.session.records_path.name,
            reviewer=self.session.reviewer,
            adjudication=_sides(self.session),
        )
        return HTMLResponse(html, headers=_HEADERS)

    async def record(self, request: Request) -> Response:
        record_id = request.path_params["record_id"]
        if record_id not in self.session.results:
            return _page(404, f"no record {record_id!r} in this file")
        self.session.opened(record_id)
        state = self.session.state(record_id)
        ids = [entry.id for entry, _ in self.session.queue()]
        index = ids.index(record_id) if record_id in ids else -1
        html = render_record(
            self.session,
            state,
            token=self.token,
            position=index + 1 if index >= 0 else None,
            total=len(ids),
            previous=ids[index - 1] if index > 0 else None,
            following=ids[index + 1] if 0 <= index < len(ids) - 1 else None,
        )
        return HTMLResponse(html, headers=_HEADERS)

    async def stats_page(self, request: Request) -> Response:
        stats = review_stats([self.session])
        html = render_stats(
            stats,
            token=self.token,
            records_name=self.session.records_path.name,
            reviewer=self.session.reviewer,
        )
        return HTMLResponse(html, headers=_HEADERS)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", status_code=404)
        body = resources.files("summarizer").joinpath("static", name).read_bytes()
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        return Response(body, media_type=STATIC_FILES[name], headers=headers)

    # -- API ---------------------------------------------------------------------
    async def get_record(self, request: Request) -> Response:
        refused = self._refusal(request, change=False)
        if refused is not None:
            return refused
        record_id = request.path_params["record_id"]
        if record_id not in self.session.results:
            return _error(404, f"no record {record_id!r} in this file")
        return JSONResponse(self._state_json(self.session.state(record_id)), headers=_HEADERS)

    async def get_stats(self, request: Request) -> Response:
        refused = self._refusal(request, change=False)
        return refused or JSONResponse(review_stats([self.session]).to_dict(), headers=_HEADERS)

    async def change_field(self, request: Request) -> Response:
        record_id, name = request.path_params["record_id"], request.path_params["field"]
        body = await _json_body(request)
        action, version = body.get("action"), _version(body)
        session = self.session
        if action == "save":
            if "value" not in body:
                raise EditError("a save needs the field's 'value'")
            offsets = body.get("offsets") or {}
            if not isinstance(offsets, dict):
                raise EditError("'offsets' must map evidence paths to [start, end]")
            state = session.edit(record_id, name, body["value"], version=version, offsets=offsets)
        elif action == "accept":
            state = session.mark(record_id, name, "accepted", version=version)
        elif action == "reject":
            state = session.mark(record_id, name, "rejected", version=version)
        elif action == "clear":
            state = session.mark(record_id, name, "unreviewed", version=version)
        elif action == "reset":
            state = session.reset(record_id, name, version=version)
        elif action == "note":
            state = session.note(record_id, name, body.get("note"), version=version)
        elif action == "adopt" and session.adjudicating:
            side = body.get("side")
            if not isinstance(side, int) or isinstance(side, bool):
                raise EditError("'side' must be 0 or 1")
            state = session.adopt(record_id, name, side, version=version)  # type: ignore[attr-defined]
        else:
            raise EditError("'action' must be save, accept, reject, clear, reset or note")
        return self._answer(state, [name])

    async def accept_all(self, request: Request) -> Response:
        record_id = request.path_params["record_id"]
        body = await _json_body(request)
        state, accepted = self.session.accept_all(record_id, version=_version(body))
        return self._answer(state, accepted, accepted=accepted)

    async def undo(self, request: Request) -> Response:
        record_id = request.path_params["record_id"]
        body = await _json_body(request)
        state, event = self.session.undo(record_id, version=_version(body))
        return self._answer(state, list(FIELD_NAMES), undone=event["action"])

    async def decision(self, request: Request) -> Response:
        record_id = request.path_params["record_id"]
        body = await _json_body(request)
        state = self.session.decide(
            record_id, body.get("decision"), body.get("reason"), version=_version(body)
        )
        return self._answer(state, [])

    async def record_note(self, request: Request) -> Response:
        record_id = request.path_params["record_id"]
        body = await _json_body(request)
        state = self.session.note(record_id, None, body.get("note"), version=_version(body))
        return self._answer(state, [])

    async def change_done(self, request: Request) -> Response:
        record_id = request.path_params["record_id"]
        body = await _json_body(request)
        done = body.get("done")
        if not isinstance(done, bool):
            raise EditError("'done' must be true or false")
        state = self.session.set_done(record_id, done, version=_version(body))
        following = self.session.next_to_do(record_id) if done else None
        return self._answer(state, [], next_url=record_url(following) if following else "/queue")

    def _answer(self, state: RecordState, names: list[str], **extra: Any) -> Response:
        """What every change answers: the record's state, the cards of ``names``, the
        abstract, the reasons (computed again) and how much each field needs a look."""
        session = self.session
        reasons = session.reasons(state.id, state)
        shown = _shown(session, state.id)
        payload = self._state_json(state) | {
            "cards": {
                name: render_field(session, state, name, reasons) for name in names if name in shown
            },
            "abstract_html": render_abstract(state),
            "reasons_html": render_reasons(reasons),
            "decision_html": render_decision(session, state),
            "looks": session.looks(state.id, state),
            "notes": _reason_notes(reasons),
        }
        return JSONResponse(payload | extra, headers=_HEADERS)

    @staticmethod
    def _state_json(state: RecordState) -> dict[str, Any]:
        return {
            "id": state.id,
            "version": state.review.version,
            "record": state.record.model_dump(mode="json"),
            "review": state.review_block(),
            "reviewed_count": state.reviewed_count,
            "done": state.review.done,
        }

    def build(self) -> Starlette:
        record = "/api/records/{record_id:path}"
        routes = [
            Route("/", self.page(self.home), methods=["GET"]),
            Route("/queue", self.page(self.queue), methods=["GET"]),
            Route("/stats", self.page(self.stats_page), methods=["GET"]),
            Route("/records/{record_id:path}", self.page(self.record), methods=["GET"]),
            Route("/static/{name}", self.static, methods=["GET"]),
            Route("/favicon.ico", _no_icon, methods=["GET"]),
            Route("/api/stats", self.get_stats, methods=["GET"]),
            Route(f"{record}/fields/{{field}}", self.change(self.change_field), methods=["POST"]),
            Route(f"{record}/accept-all", self.change(self.accept_all), methods=["POST"]),
            Route(f"{record}/undo", self.change(self.undo), methods=["POST"]),
            Route(f"{record}/decision", self.change(self.decision), methods=["POST"]),
            Route(f"{record}/note", self.change(self.record_note), methods=["POST"]),
            Route(f"{record}/done", self.change(self.change_done), methods=["POST"]),
            Route(record, self.get_record, methods=["GET"]),
        ]
        return Starlette(routes=routes)


def build_app(
    session: ReviewSession, *, port: int, token: str | None = None
) -> tuple[Starlette, ReviewApp]:
    """The Starlette app of a review answering on 127.0.0.1:``port``."""
    review = ReviewApp(session, port=port, token=token)
    return review.build(), review


async def _no_icon(request: Request) -> Response:
    return Response(status_code=204)


def _sides(session: ReviewSession) -> tuple[str, str] | None:
    names = getattr(session, "names", None)
    return names if session.adjudicating else None


def _shown(session: ReviewSession, record_id: str) -> list[str]:
    """The fields the record page shows (an adjudication: only the conflicts)."""
    if session.adjudicating:
        return session.conflict_fields(record_id)  # type: ignore[attr-defined, no-any-return]
    return list(FIELD_NAMES)


def _reason_notes(reasons: Any) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for reason in reasons:
        if reason.kind.value == "missing":
            continue
        for name in reason.fields:
            notes.setdefault(name, []).append(reason.message)
    return notes


def _version(body: dict[str, Any]) -> int:
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise EditError("'version' must be the record version the page shows (an integer)")
    return version


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


async def _json_body(request: Request) -> dict[str, Any]:
    chunks, size = [], 0
    async for chunk in request.stream():  # stop reading at the limit, not after the whole body
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge(f"the change is too large (over {MAX_BODY_BYTES:,} bytes)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadBody("the body is not valid JSON") from None
    except RecursionError:  # deeper than the parser can go
        raise BadBody(f"the body nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    if _depth(body) > MAX_DEPTH:
        raise BadBody(f"the body nests deeper than {MAX_DEPTH} levels")
    return body


def _matches(pair: tuple[QueueEntry, RecordReview], query: str, reason: str, status: str) -> bool:
    entry, review = pair
    if reason and not entry.has(reason):
        return False
    if status == "done" and not review.done:
        return False
    if status == "todo" and (review.done or review.started):
        return False
    if status == "progress" and (review.done or not review.started):
        return False
    if query:
        needle = query.casefold()
        haystack = " ".join(
            [entry.id, entry.title, *(f"{r.label} {r.message}" for r in entry.reasons)]
        ).casefold()
        return all(word in haystack for word in needle.split())
    return True
