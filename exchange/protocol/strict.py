"""Strict reading of wire objects: every field present, of its type, and nothing else.

A wire object (manifest, receipt, index entry, checkpoint, inbound decision) is parsed with
:func:`parse_json` and read with :class:`Fields`. Whatever the bytes, the outcome is the object
or one typed error naming the object, where it came from and the field (``manifest.plaintext.size``);
never a KeyError, TypeError or RecursionError further down. Sizes are bounded by the caller
before parsing (``exchange.protocol.limits``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from exchange.errors import ProtocolError, TerminalError

T = TypeVar("T")
Error = type[TerminalError]
_HINT = "the object was altered, planted or written by an incompatible gcmx"
_MISSING = object()


def parse_json(data: bytes | str, what: str, where: str, error: Error = ProtocolError) -> Any:
    """The JSON value of ``data``; ``error`` naming ``what`` and ``where`` when it is not JSON."""
    try:
        return json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # ValueError: also bad UTF-8 or a 4300-digit number
        raise error(f"{where}: {what} is not valid JSON ({getattr(exc, 'msg', type(exc).__name__)})",
                    hint=_HINT) from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class Fields:
    """The fields of one JSON object, taken one by one with their type checked.

    Call :meth:`done` last: a field nobody took is an unknown field, an error too.
    """

    def __init__(self, raw: Any, what: str, where: str, error: Error = ProtocolError):
        self.what, self.where, self.error = what, where, error
        if not isinstance(raw, dict):
            raise error(f"{where}: {what} is not a JSON object", hint=_HINT)
        self.raw, self.taken = raw, set()

    def fail(self, name: str, problem: str) -> TerminalError:
        """The error for field ``name`` (to raise)."""
        return self.error(f"{self.where}: {self.what}.{name} {problem}", hint=_HINT)

    def _get(self, name: str, optional: bool) -> Any:
        """The raw value; ``_MISSING`` for an absent optional field."""
        self.taken.add(name)
        if name not in self.raw:
            if optional:
                return _MISSING
            raise self.fail(name, "is missing")
        return self.raw[name]

    def text(self, name: str, pattern: re.Pattern | None = None, optional: bool = False) -> str | None:
        """A string field (matching ``pattern`` when given)."""
        value = self._get(name, optional)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            raise self.fail(name, "is not a string")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(name, "is malformed")
        return value

    def count(self, name: str, optional: bool = False) -> int | None:
        """A whole number of zero or more (a bool is not a number)."""
        value = self._get(name, optional)
        if value is _MISSING:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(name, "is not a count (a whole number, zero or more)")
        return value

    def number(self, name: str, optional: bool = False, nullable: bool = False) -> int | float | None:
        """A finite number, kept as parsed (an int stays an int, so the bytes stay the same)."""
        value = self._get(name, optional)
        if value is _MISSING or (value is None and nullable):
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise self.fail(name, "is not a number")
        return value

    def flag(self, name: str, optional: bool = False) -> bool | None:
        """A true/false field."""
        value = self._get(name, optional)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            raise self.fail(name, "is not true or false")
        return value

    def texts(self, name: str, optional: bool = False) -> tuple[str, ...] | None:
        """A list of strings, as a tuple."""
        value = self._get(name, optional)
        if value is _MISSING:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "is not a list of strings")
        return tuple(value)

    def json_object(self, name: str, optional: bool = False) -> dict | None:
        """An open-ended JSON object (terms whose shape another module owns), checked to be JSON."""
        value = self._get(name, optional)
        if value is _MISSING:
            return None
        try:
            valid = isinstance(value, dict) and _finite(value)
        except RecursionError:
            valid = False
        if not valid:
            raise self.fail(name, "is not a JSON object")
        return value

    def nested(self, name: str, parse: Callable[[Fields], T], optional: bool = False,
               nullable: bool = False) -> T | None:
        """A nested object read by ``parse`` (errors name ``what.name.field``)."""
        value = self._get(name, optional)
        if value is _MISSING or (value is None and nullable):
            return None
        return parse(Fields(value, f"{self.what}.{name}", self.where, self.error))

    def items(self, name: str, parse: Callable[[Fields], T], optional: bool = False) -> tuple[T, ...] | None:
        """A list of nested objects, each read by ``parse``."""
        value = self._get(name, optional)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            raise self.fail(name, "is not a list")
        return tuple(parse(Fields(v, f"{self.what}.{name}[{i}]", self.where, self.error))
                     for i, v in enumerate(value))

    def done(self) -> None:
        """Refuse any field that was not taken."""
        unknown = sorted(set(self.raw) - self.taken)
        if unknown:
            shown = ", ".join(repr(u)[:40] for u in unknown[:5])
            raise self.error(f"{self.where}: {self.what} has unknown fields {shown}", hint=_HINT)


def _finite(value: Any) -> bool:
    """Whether a parsed JSON value has no non-finite number (it could not be signed again)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def without_none(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` minus those that are None: an optional field absent on the wire stays absent."""
    return {k: v for k, v in fields.items() if v is not None}
