"""``case-summarizer schema``: print the JSON Schema of the case record."""

from __future__ import annotations

import click

from ..schema import json_schema_text
from .common import handle_errors


@click.command("schema")
@handle_errors
def command() -> None:
    """Print the JSON Schema of the case record (the file in schemas/).

    \b
    Example:
      case-summarizer schema > case_report.schema.json
    """
    click.echo(json_schema_text(), nl=False)
