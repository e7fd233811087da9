"""Render a versioned prompt (prompts/<version>/) into plain chat messages.

Templates are rendered here, in a sandbox with StrictUndefined, and handed to the
model client as plain strings: the abstract is data, so text such as ``{{ x }}`` in
an abstract stays text, and a closing fence inside it is neutralised.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .document import Abstract
from .errors import ConfigError
from .sinks import prompt_fence


def prompts_root() -> Path:
    """prompts/ inside the installed wheel, else the repository's prompts/ (editable installs)."""
    packaged = resources.files("summarizer") / "_prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "prompts"


@dataclass(frozen=True, slots=True)
class PromptVersion:
    version: str
    description: str
    strategy: str
    """single: one request for the whole record; staged: one request per field group."""
    templates: dict[str, str]
    metadata: dict[str, Any]
    hash: str

    def template(self, name: str) -> str:
        try:
            return self.templates[name]
        except KeyError:
            raise ConfigError(f"prompt {self.version} has no template {name!r}") from None


@dataclass(frozen=True, slots=True)
class Stage:
    """One request of a staged prompt: the fields it asks for and its messages."""

    name: str
    fields: tuple[str, ...]
    messages: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    version: str
    hash: str
    messages: list[dict[str, str]]
    """single: the request; staged: the prefix every stage shares (system + abstract)."""
    strategy: str = "single"
    stages: tuple[Stage, ...] = ()
    """staged: one request per field group, each starting with ``messages``' content."""


def available_versions() -> list[str]:
    root = prompts_root()
    return sorted(p.name for p in root.iterdir() if (p / "prompt.toml").is_file())


@lru_cache(maxsize=32)
def load_prompt(version: str) -> PromptVersion:
    folder = prompts_root() / version
    meta_file = folder / "prompt.toml"
    if not meta_file.is_file():
        known = ", ".join(available_versions()) or "none"
        raise ConfigError(f"unknown prompt version {version!r} (available: {known})")
    metadata = tomllib.loads(meta_file.read_text(encoding="utf-8"))
    templates = {
        path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.j2"))
    }
    digest = hashlib.sha256()
    for name in ["prompt.toml", *sorted(f"{stem}.j2" for stem in templates)]:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return PromptVersion(
        version=version,
        description=str(metadata.get("description", "")),
        strategy=str(metadata.get("strategy", "single")),
        templates=templates,
        metadata=metadata,
        hash=digest.hexdigest()[:16],
    )


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def fence(text: str) -> str:
    """Keep the abstract inside its fence whatever it contains (see ``sinks.prompt_fence``)."""
    return prompt_fence(text)


@lru_cache(maxsize=64)
def _compiled(source: str) -> Template:
    """Each template source compiled once."""
    return _environment().from_string(source)


def render_template(prompt: PromptVersion, name: str, **variables: Any) -> str:
    try:
        return _compiled(prompt.template(name)).render(**variables).strip()
    except TemplateError as error:
        raise ConfigError(f"prompt {prompt.version}/{name}.j2: {error}") from error


def render(abstract: Abstract, prompt: PromptVersion | str = "v1") -> RenderedPrompt:
    """The system and user messages for one abstract."""
    if isinstance(prompt, str):
        prompt = load_prompt(prompt)
    variables = {"abstract": fence(abstract.text), "title": abstract.title or ""}
    messages = [
        {"role": "system", "content": render_template(prompt, "system", **variables)},
        {"role": "user", "content": render_template(prompt, "user", **variables)},
    ]
    stages = tuple(_stages(prompt, messages, variables)) if prompt.strategy == "staged" else ()
    return RenderedPrompt(
        version=prompt.version,
        hash=prompt.hash,
        messages=messages,
        strategy=prompt.strategy,
        stages=stages,
    )


@lru_cache(maxsize=32)
def outline(version: str) -> RenderedPrompt:
    """A prompt version as rendered for no abstract: its version, hash, strategy and
    stages, with no messages. What reading the answers to its requests needs (a provider
    batch's collect, whose answers are in a file and which sends nothing), without the
    cost of rendering each abstract into messages that are never sent."""
    prompt = load_prompt(version)
    stages = (
        tuple(
            Stage(name=name, fields=fields, messages=[]) for name, fields in _stage_fields(prompt)
        )
        if prompt.strategy == "staged"
        else ()
    )
    return RenderedPrompt(
        version=prompt.version,
        hash=prompt.hash,
        messages=[],
        strategy=prompt.strategy,
        stages=stages,
    )


def _stage_fields(prompt: PromptVersion) -> list[tuple[str, tuple[str, ...]]]:
    """prompt.toml ``[[stages]]``: (name, fields) of each stage, in order."""
    stages = [
        (str(entry["name"]), tuple(entry["fields"])) for entry in prompt.metadata.get("stages", [])
    ]
    if not stages:
        raise ConfigError(f"prompt {prompt.version} is staged but lists no [[stages]]")
    return stages


def _stages(
    prompt: PromptVersion, prefix: list[dict[str, str]], variables: dict[str, Any]
) -> list[Stage]:
    """prompt.toml ``[[stages]]`` (name, fields; template ``stage_<name>.j2``): each stage
    is the shared prefix with its question appended to the last (user) message."""
    stages = []
    for name, fields in _stage_fields(prompt):
        question = render_template(prompt, f"stage_{name}", **variables)
        *head, last = (dict(message) for message in prefix)
        last["content"] = f"{last['content']}\n\n{question}"
        stages.append(Stage(name=name, fields=fields, messages=[*head, last]))
    return stages
