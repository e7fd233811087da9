"""The Jinja environment for output templates (``summarizer/templates/``, package data).

Templates are read through ``importlib.resources`` so they load from a wheel or a zip as
well as from a checkout. HTML templates are autoescaped (every value from a record or an
abstract is text, never markup); Markdown templates escape through the ``md`` filter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from importlib import resources

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound, select_autoescape

TEMPLATE_PACKAGE = "summarizer"
TEMPLATE_FOLDER = "templates"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value: object) -> str:
    """Text for inline Markdown: special characters backslash-escaped, newlines folded.

    CommonMark renders ``\\<script>`` as the text ``<script>``, so an abstract that
    contains HTML or Markdown syntax shows as written and injects nothing.
    """
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


class ResourceLoader(BaseLoader):
    """Loads ``summarizer/templates/<name>`` through importlib.resources."""

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        parts = template.split("/")
        if ".." in parts:
            raise TemplateNotFound(template)
        resource = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER, *parts)
        if not resource.is_file():
            raise TemplateNotFound(template)
        source = resource.read_text(encoding="utf-8")
        return source, f"{TEMPLATE_PACKAGE}/{TEMPLATE_FOLDER}/{template}", lambda: True


@functools.cache
def environment() -> Environment:
    """The shared output environment: autoescape on for HTML templates, StrictUndefined."""
    env = Environment(
        loader=ResourceLoader(),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"),
            disabled_extensions=("md", "md.j2"),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env
