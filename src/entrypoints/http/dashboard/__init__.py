"""Operator dashboard at ``/dashboard``: Jinja pages, a little CSS and vanilla JS."""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from entrypoints.http.dashboard.rendering import TEMPLATES_DIR
from entrypoints.http.dashboard.router import dashboard_router

__all__ = ["dashboard_router", "template_config"]


def _when(value: datetime | None) -> str:
    """UTC, to the second: operators compare these with logs, which are UTC too."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


NONE = "\N{EN DASH}"  # a table cell with no value yet


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f} %"


def _ms(value: int | None) -> str:
    return NONE if value is None else f"{value} ms"


def _sentence(text: str) -> str:
    """Domain errors are lower-case fragments ("user 9 does not exist"); pages show sentences."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescaping everywhere and undefined names as errors (caught by tests)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, percent=_percent, ms=_ms, sentence=_sentence)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
