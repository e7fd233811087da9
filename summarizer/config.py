"""Settings: what shapes a model request (backend, model, prompt, mode, the limits of one
request). Immutable; no global state. How a run reads, writes and paces is
``summarizer.options.RunOptions``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ConfigError

BACKENDS = ("auto", "openai", "rules", "llamacpp")
BASELINE_BACKEND = "rules"
"""The deterministic backend without a model: the default when none is configured, and
the baseline every prompt must beat."""
MODES = ("tools", "json_schema", "json", "md_json")
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendDefaults:
    """What a backend uses for the settings left unset (``None``)."""

    prompt: str
    """Prompt version."""
    max_tokens: int
    """Completion token limit per request (per stage of a staged prompt)."""
    grammar_max_items: int
    """Most items per list in the decoding grammar (servers that compile one)."""
    grammar_max_string: int
    """Most characters per free-text string in the decoding grammar."""
    validation_attempts: int = 3
    """Tries per request when the answer does not validate (1 = no re-ask)."""


DEFAULTS = BackendDefaults(
    prompt="v1", max_tokens=2048, grammar_max_items=3, grammar_max_string=160
)
"""Hosted and served models (the openai backend), and any backend not listed below."""

BACKEND_DEFAULTS: dict[str, BackendDefaults] = {
    # Measured on the gold set with SmolLM2-135M (docs/local-models.md, "Defaults"): the
    # staged prompt with short lists and strings scores best and always finishes (the
    # longest answer each stage's grammar admits fits max_tokens at 2 characters a
    # token); re-asks cost 2.7x the requests and fix nothing at this size.
    "llamacpp": BackendDefaults(
        prompt="v2",
        max_tokens=1280,
        grammar_max_items=2,
        grammar_max_string=120,
        validation_attempts=1,
    ),
}


class Secret:
    """A string that never shows itself in repr, str, logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything that chooses a backend and shapes a request.

    Build with ``Settings.from_env(**overrides)`` to read OPENAI_API_KEY,
    OPENAI_BASE_URL and CASE_SUMMARIZER_MODEL the way the CLI does.
    """

    backend: str = "auto"
    model: str | None = None
    base_url: str | None = None
    api_key: Secret | str | None = field(default=None, repr=False)
    """A plain string is kept as a Secret (read it back with ``secret``)."""
    mode: str | None = None
    """tools | json_schema | json | md_json; None picks the backend's default."""
    prompt: str | None = None
    """Prompt version; None: the backend's default (``resolved_prompt``)."""
    temperature: float = 0.0
    max_tokens: int | None = None
    """Completion tokens per request; None: the backend's default."""
    grammar_max_items: int | None = None
    """Most items per list in a decoding grammar (llama.cpp in process, and servers that
    compile the schema into one); None: the backend's default. Validation is unchanged."""
    grammar_max_string: int | None = None
    """Most characters per free-text string in a decoding grammar; None: the backend's
    default."""
    seed: int | None = 0
    timeout: float = 60.0
    """Seconds for one HTTP request."""
    transport_attempts: int = 4
    """Tries per request for 429/5xx/timeouts/connection errors."""
    deadline: float = 300.0
    """Seconds across all transport tries of one request."""
    backoff: float = 0.5
    """First transport backoff in seconds (doubles each try, with jitter)."""
    max_backoff: float = 30.0
    validation_attempts: int | None = None
    """Tries per request when the answer does not validate (1 = no re-ask); None: the
    backend's default (``resolved_validation_attempts``)."""
    strict_grounding: bool = False
    keep_ungrounded: bool = False
    """Keep list items whose evidence quote is not in the abstract (marked unaligned)
    instead of dropping them into ``provenance.dropped``."""
    model_path: str | None = None
    """GGUF file for the llamacpp backend."""
    n_ctx: int | None = None
    n_threads: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.api_key, str):  # Settings(api_key="...") from plain code
            object.__setattr__(self, "api_key", Secret(self.api_key))
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}"
            )
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.transport_attempts < 1 or (
            self.validation_attempts is not None and self.validation_attempts < 1
        ):
            raise ConfigError("attempts must be at least 1")
        if self.timeout <= 0 or self.deadline <= 0:
            raise ConfigError("timeout and deadline must be positive")
        for name in ("max_tokens", "grammar_max_items", "grammar_max_string"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from environment variables, then explicit overrides (None = not given)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "base_url": env.get("OPENAI_BASE_URL") or None,
            "model": env.get("CASE_SUMMARIZER_MODEL") or None,
        }
        if env.get("OPENAI_API_KEY"):
            values["api_key"] = Secret(env["OPENAI_API_KEY"])
        for name, value in overrides.items():
            if value is None:
                continue
            if name == "api_key" and isinstance(value, str):
                value = Secret(value)
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def secret(self) -> Secret | None:
        """The API key, never shown in repr, str, logs or errors."""
        return self.api_key if isinstance(self.api_key, Secret) else None

    @property
    def resolved_backend(self) -> str:
        """``auto`` means openai when a key or base URL is configured, else rules."""
        if self.backend != "auto":
            return self.backend
        return "openai" if (self.api_key or self.base_url) else BASELINE_BACKEND

    @property
    def defaults(self) -> BackendDefaults:
        """The resolved backend's defaults for the settings left unset."""
        return BACKEND_DEFAULTS.get(self.resolved_backend, DEFAULTS)

    @property
    def resolved_prompt(self) -> str:
        """The prompt version used: ``prompt``, else the backend's default."""
        return self.prompt or self.defaults.prompt

    @property
    def resolved_max_tokens(self) -> int:
        """The completion token limit per request: ``max_tokens``, else the backend's."""
        return self.max_tokens or self.defaults.max_tokens

    @property
    def resolved_validation_attempts(self) -> int:
        """Tries per request: ``validation_attempts``, else the backend's default."""
        return self.validation_attempts or self.defaults.validation_attempts

    @property
    def resolved_grammar(self) -> tuple[int, int]:
        """(most list items, most string characters) for a decoding grammar."""
        defaults = self.defaults
        return (
            self.grammar_max_items or defaults.grammar_max_items,
            self.grammar_max_string or defaults.grammar_max_string,
        )
