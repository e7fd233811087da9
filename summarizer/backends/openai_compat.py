"""The ``openai`` backend: instructor over the OpenAI SDK, for any OpenAI-compatible server."""

from __future__ import annotations

from typing import Any

import openai

from ..config import DEFAULT_OPENAI_MODEL, Settings
from ..document import Abstract
from ..errors import ConfigError
from ..render import RenderedPrompt
from ..schema import SCHEMA_VERSION
from .adapters import (
    Adapter,
    accepts_schema_in_json_object,
    adapt_async_create,
    adapt_create,
    schema_in_json_object,
)
from .base import Extraction
from .staged import arun_prompt, run_prompt
from .structured import StructuredCaller
from .transport import TransportPolicy, with_async_transport_retries, with_transport_retries

# Local servers (llama.cpp, vLLM, Ollama, LM Studio) accept any key; the SDK insists on one.
PLACEHOLDER_KEY = "no-key-needed"


def request_parameters(settings: Settings) -> dict[str, Any]:
    params: dict[str, Any] = {
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
    }
    if settings.seed is not None:
        params["seed"] = settings.seed
    return params


class OpenAIBackend:
    """Any OpenAI-compatible chat-completions server."""

    name = "openai"

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
        self._request = request_parameters(settings)
        self._sync: openai.OpenAI | None = None
        self._async: openai.AsyncOpenAI | None = None
        self._caller: StructuredCaller | None = None
        self._acaller: StructuredCaller | None = None

    def _client_options(self) -> dict[str, Any]:
        key = self.settings.api_key.reveal() if self.settings.api_key else PLACEHOLDER_KEY
        return {
            "api_key": key,
            "base_url": self.base_url,
            "max_retries": 0,  # one retry policy: ours (transport.py)
            "timeout": self.settings.timeout,
        }

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "mode": self.mode,
            "base_url": self.base_url,
            "params": self._request,
            "schema_version": SCHEMA_VERSION,
        }

    def _adapter(self) -> Adapter | None:
        """``json`` mode against a server that accepts it (llama.cpp's, vLLM, Ollama; not
        OpenAI or Azure): the schema goes in ``{"type": "json_object", "schema": ...}``,
        which llama.cpp's server compiles into a decoding grammar (see adapters.py)."""
        if self.mode == "json" and accepts_schema_in_json_object(self.base_url):
            return schema_in_json_object()
        return None

    def caller(self) -> StructuredCaller:
        if self._caller is None:
            self._sync = openai.OpenAI(**self._client_options())
            create = with_transport_retries(self._sync.chat.completions.create, self._policy)
            adapter = self._adapter()
            if adapter is not None:
                create = adapt_create(create, adapter)
            self._caller = self._structured(create, is_async=False)
        return self._caller

    def async_caller(self) -> StructuredCaller:
        if self._acaller is None:
            self._async = openai.AsyncOpenAI(**self._client_options())
            create = with_async_transport_retries(self._async.chat.completions.create, self._policy)
            adapter = self._adapter()
            if adapter is not None:
                create = adapt_async_create(create, adapter)
            self._acaller = self._structured(create, is_async=True)
        return self._acaller

    def _structured(self, create: Any, *, is_async: bool) -> StructuredCaller:
        return StructuredCaller(
            create,
            mode=self.mode,
            model=self.model,
            request=self._request,
            validation_attempts=self.settings.validation_attempts,
            strict_grounding=self.settings.strict_grounding,
            is_async=is_async,
        )

    def extract(self, abstract: Abstract, prompt: RenderedPrompt) -> Extraction:
        return run_prompt(self.caller(), abstract, prompt)

    async def aextract(self, abstract: Abstract, prompt: RenderedPrompt) -> Extraction:
        return await arun_prompt(self.async_caller(), abstract, prompt)

    async def aclose(self) -> None:
        """Close the async client inside its event loop (a batch calls this at its end)."""
        if self._async is not None:
            await self._async.close()
            self._async = None
            self._acaller = None

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        # The async client is closed by its event loop's shutdown; closing it here
        # from sync code would need a loop that may already be gone.
