"""Backends fill the case schema: openai (any compatible server), llamacpp (in process), rules."""

from __future__ import annotations

from ..config import Settings
from ..errors import ConfigError
from .base import Backend, Extraction, Usage

__all__ = ["Backend", "Extraction", "Usage", "make_backend"]


def make_backend(settings: Settings) -> Backend:
    """The backend ``settings`` selects (``auto``: openai when configured, else rules)."""
    name = settings.resolved_backend
    if name == "rules":
        from .rules import RulesBackend

        return RulesBackend()
    if name == "openai":
        from .openai_compat import OpenAIBackend

        return OpenAIBackend(settings)
    if name == "llamacpp":
        from .llamacpp import LlamaCppBackend

        backend: Backend = LlamaCppBackend(settings)
        return backend
    raise ConfigError(f"unknown backend {name!r}")
