"""Render the gathered data into one self-contained HTML file with Jinja2.

Templates and the stylesheet are package data under ``exchange/report/templates/``; the
stylesheet and the SVG chart are inlined, so the file opens offline with no asset, font
or script from anywhere. Autoescaping is on for every template.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from exchange.atomic import write_text_atomic
from exchange.errors import ConfigError

DASH = "—"
# Status → (CSS tone, symbol): the symbol and the word carry the meaning, colour only helps.
TONES = {
    "delivered": ("ok", "✓"),
    "landed": ("ok", "✓"),
    "awaiting receipt": ("wait", "…"),
    "rejected by partner": ("bad", "✗"),
    "rejected": ("bad", "✗"),
    "receipt invalid": ("bad", "✗"),
    "not sent": ("bad", "✗"),
    "unknown": ("wait", "?"),
}
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def fmt_count(value: Any) -> str:
    """``12345`` → ``12,345``; anything that is not a number → ``—``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def fmt_percent(value: Any) -> str:
    """A ratio 0..1 as ``87.5 %``; ``—`` when unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    return f"{value * 100:.0f} %" if value in (0, 1) else f"{value * 100:.1f} %"


def fmt_time(value: Any) -> str:
    """An ISO 8601 timestamp at second precision (``2026-10-03T14:22:05Z``); ``—`` when absent."""
    if not isinstance(value, str) or not value:
        return DASH
    match = _ISO.match(value)
    return f"{match[1]}T{match[2]}{match[3] or ''}" if match else value


def fmt_bytes(value: Any) -> str:
    """``1234567`` → ``1,234,567 bytes (1.2 MB)``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return DASH
    size, unit = float(value), "bytes"
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            break
        size /= 1000
    return f"{value:,} bytes" if unit == "bytes" else f"{value:,} bytes ({size:.1f} {unit})"


def fmt_value(value: Any) -> str:
    """Text for a value that may be missing: ``—`` for None or empty."""
    if value is None or value == "" or value == []:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return fmt_count(value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value)
    return str(value)


@cache
def environment() -> Environment:
    """The Jinja2 environment over the packaged templates (autoescaped, strict)."""
    env = Environment(
        loader=PackageLoader("exchange.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
    )
    env.globals["tones"] = TONES
    env.filters.update(n=fmt_count, pct=fmt_percent, iso=fmt_time, size=fmt_bytes, v=fmt_value)
    return env


def render(data: dict) -> str:
    """The HTML text of the report for summarised data (see :func:`exchange.report.summarise`)."""
    return environment().get_template("report.html.j2").render(**data)


def write_html(html: str, out: Path) -> Path:
    """Write ``html`` to ``out`` atomically (:mod:`exchange.atomic`)."""
    out = Path(out)
    try:
        write_text_atomic(out, html)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report to {out}: {exc.strerror or type(exc).__name__}",
            hint="choose a writable --out path",
        ) from None
    return out
