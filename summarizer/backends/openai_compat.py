"""The ``openai`` backend: any OpenAI-compatible chat-completions server.

``build`` and ``parse`` are the pure chat-completions steps (``backends.chat``, in
instructor's modes); ``send`` posts one request with the async OpenAI SDK under our transport
retries (``backends.transport``). One client per event loop, closed by ``aclose``.

A run holds the backend open (``aopen`` … ``aclose``; the batch runner and the
``Summarizer`` context managers do): its client then sends through the SDK's aiohttp
transport, about 1.3 ms less CPU a request than httpx's, which is what bounds many
requests in flight. Outside a held run the client is httpx's, which may be dropped
unclosed without a word, where an unclosed aiohttp session complains at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, cast

import openai
from openai._models import construct_type  # the SDK's lenient reading, kept for odd servers
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from ..config import DEFAULT_OPENAI_MODEL, Settings
from ..errors import ConfigError, MalformedAnswerError
from ..schema import SCHEMA_VERSION
from .adapters import GrammarServer, accepts_schema_in_json_object, bounds_for
from .base import Capabilities, ChatRequest
from .chat import INSTRUCTOR_MODES, ChatSteps, RequestSpec
from .transport import TransportPolicy, send_with_retries

# Local servers (llama.cpp, vLLM, Ollama, LM Studio) accept any key; the SDK insists on one.
PLACEHOLDER_KEY = "no-key-needed"


def request_parameters(settings: Settings) -> dict[str, Any]:
    params: dict[str, Any] = {
        "temperature": settings.temperature,
        "max_tokens": settings.resolved_max_tokens,
    }
    if settings.seed is not None:
        params["seed"] = settings.seed
    return params


def request_spec(settings: Settings) -> RequestSpec:
    """What every request of the ``openai`` backend carries besides the messages."""
    mode = settings.mode or "tools"
    return RequestSpec(
        model=settings.model or DEFAULT_OPENAI_MODEL,
        mode=INSTRUCTOR_MODES[mode],
        params=tuple(request_parameters(settings).items()),
        dialect=_dialect(mode, settings),
        # a self-hosted server reuses a shared prefix for free; OpenAI and Azure bill it
        share_stage_tools=accepts_schema_in_json_object(settings.base_url),
    )


def _dialect(mode: str, settings: Settings) -> GrammarServer | None:
    """``json`` and ``tools`` modes against a server that compiles a grammar (llama.cpp's,
    vLLM, Ollama; not OpenAI or Azure): the schema goes in ``{"type": "json_object",
    "schema": ...}`` (json), and the schema or the forced tool's parameters are bounded by
    the grammar limits (``--grammar-max-items``/``--grammar-max-string``; see adapters.py)."""
    if mode in ("json", "tools") and accepts_schema_in_json_object(settings.base_url):
        return GrammarServer(bounds_for(settings))
    return None


def as_completion(answer: object) -> ChatCompletion:
    """A server's answer as the SDK's ``ChatCompletion``: validated by pydantic-core, a
    tenth of the CPU of the SDK's field-by-field construct (0.25 ms a request); an
    answer off the OpenAI schema (a finish reason of the server's own, a missing field)
    gets that lenient construct, as ``create()`` would return it."""
    if isinstance(answer, str):  # JSON sent under another content type
        with contextlib.suppress(ValueError):
            answer = json.loads(answer)
    try:
        return ChatCompletion.model_validate(answer)
    except ValidationError:
        if not _has_a_message(answer):
            raise MalformedAnswerError(
                f"the server's answer is not a chat completion: {_glimpse(answer)}"
            ) from None
        return cast(ChatCompletion, construct_type(value=answer, type_=ChatCompletion))


def _has_a_message(answer: object) -> bool:
    """Whether an answer off the OpenAI schema still carries a first choice's message."""
    if not isinstance(answer, dict):
        return False
    choices = answer.get("choices")
    return (
        isinstance(choices, list)
        and bool(choices)
        and isinstance(choices[0], dict)
        and isinstance(choices[0].get("message"), dict)
    )


def _glimpse(answer: object) -> str:
    text = answer if isinstance(answer, str) else json.dumps(answer)[:200]
    return " ".join(str(text).split())[:80] or "(empty)"


class OpenAISteps(ChatSteps):
    """The ``openai`` backend's pure steps (build, parse, reask) without its client: what
    a provider batch needs to write requests and read answers, with no key or server."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.spec = request_spec(settings)


class OpenAIBackend(ChatSteps):
    """Any OpenAI-compatible chat-completions server."""

    name = OpenAISteps.name
    capabilities = Capabilities(takes_prompt=True, cacheable=True, local=False)

    def __init__(self, settings: Settings) -> None:
        if settings.api_key is None and settings.base_url is None:
            raise ConfigError(
                "the openai backend needs OPENAI_API_KEY (or --api-key) or a --base-url for a local server"
            )
        self.settings = settings
        self.model = settings.model or DEFAULT_OPENAI_MODEL
        self.mode = settings.mode or "tools"
        self.base_url = settings.base_url
        self._policy = TransportPolicy(
            attempts=settings.transport_attempts,
            deadline=settings.deadline,
            initial_backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            provider=self.name,
        )
        self._params = request_parameters(settings)
        self._dialect = _dialect(self.mode, settings)
        self.spec = request_spec(settings)
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holding: asyncio.AbstractEventLoop | None = None  # the loop a run holds us in
        self._held: openai.AsyncOpenAI | None = None  # its pooled client, made on first send

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "backend": self.name,
            "model": self.model,
            "mode": self.mode,
            "base_url": self.base_url,
            "params": self._params,
            "schema_version": SCHEMA_VERSION,
        }
        if self._dialect is not None:  # only then: other servers' cache keys stay as they were
            identity["grammar_bounds"] = repr(self._dialect.bounds)
        return identity

    # -- send (build, parse and reask: ChatSteps) -------------------------------
    async def send(self, request: ChatRequest) -> ChatCompletion:
        client = self._client_for_this_loop()

        async def post(**body: Any) -> ChatCompletion:
            # What chat.completions.create does, less its walk of the body against the
            # SDK's TypedDicts: our body is plain JSON already (tests/test_openai_backend.py
            # checks the walk changes nothing), and the walk was 1.2 ms of CPU a request,
            # a quarter of the SDK's cost and what bounded 32 requests in flight.
            try:
                answer = await client.post(
                    "/chat/completions",
                    body=body,
                    cast_to=object,  # the JSON as read: as_completion makes the model
                    options={"security": {"bearer_auth": True}},  # the key, as create sends it
                )
            except json.JSONDecodeError as error:  # a 200 whose body is not JSON
                raise MalformedAnswerError(
                    f"the server's answer is not JSON ({error.msg} at character {error.pos})"
                ) from None
            return as_completion(answer)

        return await send_with_retries(post, request.body, self._policy)

    # -- lifecycle -------------------------------------------------------------
    def _client_for_this_loop(self) -> openai.AsyncOpenAI:
        """The async client of the running event loop (an async client cannot move loops):
        the held one, or one made on first use. Made lazily either way: a client loads
        the CA bundle (~90 ms), which a run served from the cache never needs."""
        loop = asyncio.get_running_loop()
        if loop is self._holding:
            if self._held is None:
                self._held = self._new_client(openai.DefaultAioHttpClient())
            return self._held
        if self._client is None or self._loop is not loop:
            self._client = self._new_client()
            self._loop = loop
        return self._client

    def _new_client(self, http_client: Any = None) -> openai.AsyncOpenAI:
        secret = self.settings.secret
        return openai.AsyncOpenAI(
            api_key=secret.reveal() if secret is not None else PLACEHOLDER_KEY,
            base_url=self.base_url,
            max_retries=0,  # one retry policy: ours (transport.py)
            timeout=self.settings.timeout,
            http_client=http_client,
        )

    async def aopen(self) -> None:
        """Hold a pooled aiohttp-backed client on this event loop until ``aclose``."""
        loop = asyncio.get_running_loop()
        if self._holding is not loop:
            await self._release_held(loop)
            self._holding = loop

    async def aclose(self) -> None:
        """Close the clients inside their event loop (the summarizer calls this at its end)."""
        await self._release_held(asyncio.get_running_loop())
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.close()

    async def _release_held(self, loop: asyncio.AbstractEventLoop) -> None:
        held, holding, self._held, self._holding = self._held, self._holding, None, None
        # a session can only be closed in its own loop; one held elsewhere is let go
        if held is not None and holding is loop:
            await held.close()
