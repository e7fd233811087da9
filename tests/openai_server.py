"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

Replies are queued (``enqueue``) or produced by a ``fallback`` callable; every request is
recorded (path, headers, JSON body). Faults are real HTTP: status codes with headers,
slow replies, dropped connections, truncated bodies.

It also speaks the Batch API (``server.jobs``, see ``BatchJobs``): ``/v1/files`` (upload
with purpose ``batch``, retrieve, content) and ``/v1/batches`` (create, retrieve, list,
cancel), each batch stepping validating → in_progress → finalizing → completed on every
retrieve, or ending failed, expired (with partial output) or cancelled as its plan says.
Each request line is answered by the same replies as a chat completion (queue, then
``fallback``): 200 replies go to the output file, others to the error file.

Usage: a reply gives its own token counts (``answer(..., prompt_tokens=, cached_tokens=)``),
or, with ``server.prompt_cache = PromptCache()``, every completion reports the request's
prompt tokens as counted by the model's tokenizer and, as cached, the prefix it repeats
from an earlier request under OpenAI's caching rule (1,024 tokens, then steps of 128).
"""

from __future__ import annotations

import email.policy
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Body = dict[str, Any] | str | Callable[[dict[str, Any]], dict[str, Any] | str]


@dataclass
class Reply:
    status: int = 200
    body: Body = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    """Close the connection without answering."""
    truncate: bool = False
    """Send headers and half of the body, then close."""


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return json.dumps(self.body)


def completion_body(
    request: dict[str, Any],
    content: str,
    *,
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    cached_tokens: int | None = None,
) -> dict[str, Any]:
    """A chat completion answering ``request`` with ``content``: as a tool call when the
    request offered tools (instructor's TOOLS mode), else as message content."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    finish = "stop"
    tools = request.get("tools") or []
    if tools:
        chosen = request.get("tool_choice")
        forced = chosen.get("function", {}).get("name") if isinstance(chosen, dict) else None
        name = forced or tools[0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": content},
                }
            ],
        }
        finish = "tool_calls"
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            **(
                {"prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0}}
                if cached_tokens is not None
                else {}
            ),
        },
    }


class PromptCache:
    """Usage as a provider with automatic prompt caching reports it: each request's prompt
    tokens counted with the model's tokenizer, and the prefix it repeats from a request
    before it reported as cached (OpenAI's rule: from 1,024 tokens, in steps of 128)."""

    def __init__(self, model: str = "gpt-4o-mini") -> None:
        from summarizer.batch_api.tokens import TokenCounter
        from summarizer.evaluation.prices import PromptCacheRule

        self._counter = TokenCounter(model, cache_rule=PromptCacheRule().cached)
        self._lock = threading.Lock()
        self._before = (0, 0)

    def measure(self, request: dict[str, Any]) -> tuple[int, int]:
        """(prompt tokens, cached tokens) of ``request``, the next one the server read."""
        with self._lock:
            self._counter.add(request)
            total = self._counter.total()
            prompt = total.prompt_tokens - self._before[0]
            cached = total.cacheable_tokens - self._before[1]
            self._before = (total.prompt_tokens, total.cacheable_tokens)
            return prompt, cached

    def apply(self, request: dict[str, Any], body: Any) -> Any:
        """``body`` (a reply) with the usage measured for ``request``, if it is a completion."""
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict) or body.get("object") != "chat.completion":
            return body
        prompt, cached = self.measure(request)
        completion = int(usage.get("completion_tokens") or 0)
        return {
            **body,
            "usage": {
                **usage,
                "prompt_tokens": prompt,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            },
        }


def answer(payload: dict[str, Any] | str, **usage: int) -> Reply:
    """A 200 reply whose content is ``payload`` (a dict is sent as JSON text)."""
    content = payload if isinstance(payload, str) else json.dumps(payload)
    return Reply(body=lambda request: completion_body(request, content, **usage))


def error(
    status: int, *, retry_after: float | None = None, message: str = "scripted error"
) -> Reply:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return Reply(
        status=status, body={"error": {"message": message, "type": "scripted"}}, headers=headers
    )


@dataclass
class BatchPlan:
    """How the next batch created goes."""

    outcome: str = "completed"
    """completed | failed (at validation) | expired (after ``answered`` lines)."""
    answered: int | None = None
    """expired, or cancelled: how many request lines were answered before it stopped."""
    steps: int = 1
    """Retrieves the batch stays in each state before moving on."""
    errors: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"code": "invalid_request", "line": 1, "message": "scripted validation failure"}
        ]
    )
    """A failed batch's validation errors."""


@dataclass
class _Job:
    batch: dict[str, Any]
    plan: BatchPlan
    retrieves: int = 0


class BatchJobs:
    """The server's files and batches (thread-safe under the server's lock)."""

    STATES = ("validating", "in_progress", "finalizing")

    def __init__(self, server: ScriptedServer) -> None:
        self._server = server
        self.files: dict[str, tuple[str, str, bytes]] = {}
        """file id → (filename, purpose, content)."""
        self.jobs: dict[str, _Job] = {}
        self.plans: deque[BatchPlan] = deque()
        """Plans for the next batches created (default: completed)."""
        self._ids = 0

    def _next(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-scripted-{self._ids:04d}"

    def add_file(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        ident = self._next("file")
        self.files[ident] = (filename, purpose, content)
        return self.file_object(ident)

    def file_object(self, ident: str) -> dict[str, Any]:
        filename, purpose, content = self.files[ident]
        return {
            "id": ident,
            "object": "file",
            "bytes": len(content),
            "created_at": 1_700_000_000,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        source = body.get("input_file_id")
        if source not in self.files:
            return 400, {
                "error": {"message": "no such input file", "type": "invalid_request_error"}
            }
        ident = self._next("batch")
        total = sum(1 for line in self.files[source][2].splitlines() if line.strip())
        batch = {
            "id": ident,
            "object": "batch",
            "endpoint": body.get("endpoint"),
            "input_file_id": source,
            "completion_window": body.get("completion_window"),
            "status": "validating",
            "created_at": 1_700_000_000 + self._ids,
            "metadata": body.get("metadata"),
            "request_counts": {"completed": 0, "failed": 0, "total": total},
            "output_file_id": None,
            "error_file_id": None,
            "errors": None,
        }
        plan = self.plans.popleft() if self.plans else BatchPlan()
        self.jobs[ident] = _Job(batch, plan)
        return 200, batch

    def retrieve(self, ident: str) -> dict[str, Any]:
        """The batch, one step further along its plan."""
        job = self.jobs[ident]
        job.retrieves += 1
        status = job.batch["status"]
        if job.retrieves % job.plan.steps == 0:
            if status == "cancelling":
                self._finish(job, "cancelled")
            elif status == "validating" and job.plan.outcome == "failed":
                job.batch["status"] = "failed"
                job.batch["errors"] = {"object": "list", "data": job.plan.errors}
            elif status in self.STATES[:-1]:
                job.batch["status"] = self.STATES[self.STATES.index(status) + 1]
            elif status == "finalizing":
                self._finish(job, "expired" if job.plan.outcome == "expired" else "completed")
        return job.batch

    def cancel(self, ident: str) -> dict[str, Any]:
        job = self.jobs[ident]
        if job.batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            job.batch["status"] = "cancelling"
        return job.batch

    def listing(self, limit: int, after: str | None) -> dict[str, Any]:
        ordered = sorted(
            self.jobs, key=lambda ident: self.jobs[ident].batch["created_at"], reverse=True
        )
        if after in ordered:
            ordered = ordered[ordered.index(after) + 1 :]
        page = [self.jobs[ident].batch for ident in ordered[:limit]]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(ordered) > limit,
        }

    def _finish(self, job: _Job, status: str) -> None:
        """Answer the request lines (all, or the plan's first ``answered``) and file them."""
        content = self.files[job.batch["input_file_id"]][2]
        lines = [json.loads(line) for line in content.splitlines() if line.strip()]
        limit = len(lines) if status == "completed" else (job.plan.answered or 0)
        output: list[str] = []
        errors: list[str] = []
        for number, line in enumerate(lines):
            ident = f"batch_req_{number:06d}"
            if number >= limit:
                reason = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append(
                    json.dumps(
                        {
                            "id": ident,
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": reason, "message": f"not run: {reason}"},
                        }
                    )
                )
                continue
            reply_status, body = self._server.answer(line["body"])
            result = {
                "id": ident,
                "custom_id": line["custom_id"],
                "response": {
                    "status_code": reply_status,
                    "request_id": f"req_{number}",
                    "body": body,
                },
                "error": None,
            }
            (output if reply_status == 200 else errors).append(json.dumps(result))
        counts = job.batch["request_counts"]
        counts["completed"], counts["failed"] = len(output), len(errors)
        for name, kept in (("output_file_id", output), ("error_file_id", errors)):
            if kept:
                data = ("\n".join(kept) + "\n").encode()
                job.batch[name] = self.add_file(f"{name}.jsonl", "batch_output", data)["id"]
        job.batch["status"] = status


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body: name → (filename, content)."""
    message = BytesParser(policy=email.policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        parts[str(name)] = (part.get_filename(), payload)
    return parts


class _Server(ThreadingHTTPServer):
    # The default backlog (5) drops bursts of concurrent connections into a 1 s SYN retry.
    request_queue_size = 256


class ScriptedServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.fallback: Callable[[dict[str, Any]], Reply] | None = None
        self.prompt_cache: PromptCache | None = None
        """Usage measured and cached as a caching provider reports it (see PromptCache)."""
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stall

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b""
                if "/files" in self.path or "/batches" in self.path:
                    self._batch_api("POST", raw)
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with server._lock:
                    server.requests.append(
                        Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = server.replies.popleft() if server.replies else None
                if reply is None:
                    reply = (
                        server.fallback(body)
                        if server.fallback
                        else error(500, message="no reply queued")
                    )
                server._send(self, reply, body, server.prompt_cache)

            def do_GET(self) -> None:
                if "/files" in self.path or "/batches" in self.path:
                    self._batch_api("GET", b"")
                elif self.path.rstrip("/").endswith("/models"):
                    self._json(
                        200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]}
                    )
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def _batch_api(self, method: str, raw: bytes) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                route = urlsplit(self.path)
                parts = [part for part in route.path.split("/") if part and part != "v1"]
                query = parse_qs(route.query)
                with server._lock:
                    try:
                        status, payload = server._route(method, parts, query, headers, raw)
                    except KeyError:
                        status, payload = 404, {"error": {"message": "not found"}}
                if isinstance(payload, bytes):
                    self.send_response(status)
                    self.send_header("content-type", "application/octet-stream")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:
                    self._json(status, payload)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.jobs = BatchJobs(self)
        self.api_calls: list[Recorded] = []
        """Files and batches calls (uploads recorded as purpose, filename and size)."""
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        reply: Reply,
        request: dict[str, Any],
        prompt_cache: PromptCache | None = None,
    ) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        body = reply.body(request) if callable(reply.body) else reply.body
        if prompt_cache is not None and reply.status == 200:
            body = prompt_cache.apply(request, body)
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if reply.truncate:
                handler.wfile.write(data[: len(data) // 2])
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to do

    def answer(self, body: dict[str, Any]) -> tuple[int, Any]:
        """A batch request line answered as a chat completion would be (queue, then
        fallback): the status and the JSON body."""
        reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = self.fallback(body) if self.fallback else error(500, message="no reply queued")
        payload = reply.body(body) if callable(reply.body) else reply.body
        answered = json.loads(payload) if isinstance(payload, str) else payload
        if self.prompt_cache is not None and reply.status == 200:
            answered = self.prompt_cache.apply(body, answered)
        return reply.status, answered

    def _route(
        self,
        method: str,
        parts: list[str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        raw: bytes,
    ) -> tuple[int, dict[str, Any] | bytes]:
        """The files and batches endpoints (called under the lock)."""
        jobs = self.jobs
        if parts[0] == "files":
            if method == "POST" and len(parts) == 1:
                fields = _multipart(headers.get("content-type", ""), raw)
                purpose = fields["purpose"][1].decode()
                filename, content = fields["file"]
                self.api_calls.append(
                    Recorded(
                        "/v1/files",
                        headers,
                        {"purpose": purpose, "filename": filename, "bytes": len(content)},
                    )
                )
                if purpose != "batch":
                    return 400, {"error": {"message": "purpose must be batch"}}
                return 200, jobs.add_file(filename or "upload.jsonl", purpose, content)
            self.api_calls.append(Recorded("/v1/" + "/".join(parts), headers, {}))
            if len(parts) == 2:
                return 200, jobs.file_object(parts[1])
            if len(parts) == 3 and parts[2] == "content":
                return 200, jobs.files[parts[1]][2]
            raise KeyError(parts)
        body = json.loads(raw) if raw else {}
        self.api_calls.append(Recorded("/v1/" + "/".join(parts), headers, body))
        if method == "POST" and len(parts) == 1:
            return jobs.create(body)
        if method == "POST" and len(parts) == 3 and parts[2] == "cancel":
            return 200, jobs.cancel(parts[1])
        if len(parts) == 1:
            limit = int(query.get("limit", ["20"])[0])
            return 200, jobs.listing(limit, query.get("after", [None])[0])
        if len(parts) == 2:
            return 200, jobs.retrieve(parts[1])
        raise KeyError(parts)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
