"""The Jinja environment for output templates (``summarizer/templates/``, package data).

Templates are read through ``importlib.resources`` so they load from a wheel or a zip as
well as from a checkout. HTML templates are autoescaped (every value from a record or an
abstract is text, never markup); Markdown templates escape through the ``md`` filter
(``sinks.markdown_text``). Every value printed by any template passes ``finalize``:
control characters dropped, bidi controls shown (``sinks.shown_text``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound, select_autoescape
from markupsafe import Markup

from ..sinks import markdown_text, shown_text

TEMPLATE_PACKAGE = "summarizer"
TEMPLATE_FOLDER = "templates"


def shown(value: object) -> object:
    """Every printed value: control characters dropped, bidi controls made visible."""
    if isinstance(value, Markup):  # already escaped HTML: the replacements add no markup
        return Markup(shown_text(str(value)))
    return shown_text(value) if isinstance(value, str) else value


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
        finalize=shown,
    )
    env.filters["md"] = markdown_text
    return env
