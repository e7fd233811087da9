"""Backends fill the case schema: openai (any compatible server), llamacpp (in process), rules.

The registration: the one place that maps a backend's name to its class. Everything
else asks a backend for its ``capabilities`` instead of checking its name.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import Settings
from ..errors import ConfigError
from .base import (
    AnyBackend,
    Backend,
    Capabilities,
    ChatRequest,
    Extraction,
    HoldsOpen,
    ModelBackend,
    RecordBackend,
    ReportsProgress,
    Usage,
)

__all__ = [
    "AnyBackend",
    "Backend",
    "Capabilities",
    "ChatRequest",
    "Extraction",
    "HoldsOpen",
    "ModelBackend",
    "RecordBackend",
    "ReportsProgress",
    "Usage",
    "capabilities_of",
    "make_backend",
]


def _openai(settings: Settings) -> AnyBackend:
    from .openai_compat import OpenAIBackend

    return OpenAIBackend(settings)


def _llamacpp(settings: Settings) -> AnyBackend:
    from .llamacpp import LlamaCppBackend  # needs the optional `local` extra

    return LlamaCppBackend(settings)


def _rules(settings: Settings) -> AnyBackend:
    from .rules import RulesBackend

    return RulesBackend()


_FACTORIES: dict[str, Callable[[Settings], AnyBackend]] = {
    "openai": _openai,
    "llamacpp": _llamacpp,
    "rules": _rules,
}

_CAPABILITIES = {
    "openai": Capabilities(takes_prompt=True, cacheable=True, local=False),
    "llamacpp": Capabilities(takes_prompt=True, cacheable=True, local=True),
    "rules": Capabilities(takes_prompt=False, cacheable=False, local=True),
}
"""What each registered backend declares, known without building it (a test checks
that each backend declares the same)."""


def capabilities_of(settings: Settings) -> Capabilities:
    """The capabilities of the backend ``settings`` select, without building it."""
    return _CAPABILITIES[settings.resolved_backend]


def make_backend(settings: Settings) -> AnyBackend:
    """The backend ``settings`` selects (``auto``: openai when configured, else rules)."""
    try:
        factory = _FACTORIES[settings.resolved_backend]
    except KeyError:
        raise ConfigError(f"unknown backend {settings.resolved_backend!r}") from None
    return factory(settings)
