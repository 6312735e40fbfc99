"""Contract patterns mean what ODCS says: ECMA-262 regular expressions, evaluated in Python.

ODCS ``logicalTypeOptions.pattern`` is an ECMA-262 regular expression (as in JSON Schema),
and the ecosystem's reference client evaluates it that way. Great Expectations evaluates
regexes with Python's ``re`` (or RE2 through pandas/pyarrow, which mimics ``re``), where
the same text means something else: ``$`` also matches before a trailing newline, ``\\d``
and ``\\w`` match any Unicode digit or letter (Arabic-Indic, fullwidth), ``.`` matches
``\\r``, ``{,5}`` is a quantifier. :func:`ecma_to_python` rewrites a pattern into a
Python regex with the ECMA meaning, using only constructs both ``re`` and pandas' RE2
path read alike (no inline flags):

=================  ==========================================================
ECMA               Python
=================  ==========================================================
``$``              ``\\Z`` (the very end only)
``\\d \\D``          ``[0-9]`` ``[^0-9]``
``\\w \\W``          ``[A-Za-z0-9_]`` and its complement
``\\s \\S``          ECMA's WhiteSpace + LineTerminator set and its complement
``\\b \\B``          ASCII word boundary (look-arounds over ``[A-Za-z0-9_]``)
``.``              ``[^\\n\\r\\u2028\\u2029]``
``[]`` ``[^]``     never matches / any character
``\\cX \\0 \\u{..}``  ``\\xHH`` ``\\x00`` ``\\UHHHHHHHH``
``(?<n>..) \\k<n>``  ``(?P<n>..)`` ``(?P=n)``
=================  ==========================================================

Strings are matched by code point, and the syntax is that of ECMA's ``u`` mode (a lone
``{``, ``}`` or ``]`` must be escaped). A construct whose meaning
differs between ECMA's modes or that Python cannot express the same way (back
references, octal escapes, ``\\p{..}``, unknown letter escapes, Python-only syntax such
as ``(?i)`` or possessive quantifiers) is refused with a ContractError rather than
guessed: a contract pattern is either evaluated exactly or not accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exchange.errors import ContractError

DIGIT = "0-9"
WORD = "A-Za-z0-9_"
# ECMA-262 WhiteSpace and LineTerminator code points (what \s matches).
SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
CLASS_ESCAPES = {"d": DIGIT, "w": WORD, "s": SPACE}
LINE_TERMINATORS = "[^\\n\\r\\u2028\\u2029]"
WORD_CLASS = f"[{WORD}]"
BOUNDARY = f"(?:(?<={WORD_CLASS})(?!{WORD_CLASS})|(?<!{WORD_CLASS})(?={WORD_CLASS}))"
NOT_BOUNDARY = f"(?:(?<={WORD_CLASS})(?={WORD_CLASS})|(?<!{WORD_CLASS})(?!{WORD_CLASS}))"
CONTROL_ESCAPES = {"t": 0x09, "n": 0x0A, "v": 0x0B, "f": 0x0C, "r": 0x0D}
QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
GROUP_NAME = re.compile(r"<([A-Za-z_$][A-Za-z0-9_$]*)>")
# Inside a Python class these need a backslash to stay literal (or to avoid set syntax).
CLASS_SPECIAL = set("\\]^-[&~|")
SPECIAL = set(".^$*+?{}[]\\|()")
IDENTITY_ESCAPES = SPECIAL | {"/"}  # what u mode lets a backslash make literal (and "-" in a class)


def _char(code: int, in_class: bool = False) -> str:
    """A Python regex atom matching exactly the code point ``code``."""
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return "\\" + char if char in (CLASS_SPECIAL if in_class else SPECIAL) else char


@dataclass
class _Reader:
    """A cursor over the ECMA pattern; errors name the pattern and the position."""

    pattern: str
    pos: int = 0

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.pattern[index] if index < len(self.pattern) else ""

    def take(self, count: int = 1) -> str:
        text = self.pattern[self.pos : self.pos + count]
        self.pos += count
        return text

    def fail(self, problem: str) -> ContractError:
        return ContractError(
            f"pattern {self.pattern!r}: {problem} (at position {self.pos})",
            hint="use the ECMA-262 subset gcmx evaluates exactly (see exchange/contract/patterns.py)",
        )


def _hex(reader: _Reader, digits: int) -> int:
    text = reader.take(digits)
    if len(text) != digits or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise reader.fail(f"expected {digits} hex digits")
    return int(text, 16)


def _code_escape(reader: _Reader, letter: str) -> int | None:
    """The code point of a character escape after ``\\`` (letter already taken), or None."""
    if letter in CONTROL_ESCAPES:
        return CONTROL_ESCAPES[letter]
    if letter == "0":
        if reader.peek().isdigit():
            raise reader.fail("octal escapes are not supported")
        return 0
    if letter == "c":
        control = reader.take()
        if not (control.isascii() and control.isalpha()):
            raise reader.fail("\\c must be followed by a letter")
        return ord(control) % 32
    if letter == "x":
        return _hex(reader, 2)
    if letter == "u":
        if reader.peek() == "{":
            reader.take()
            end = reader.pattern.find("}", reader.pos)
            digits = reader.pattern[reader.pos : end] if end > 0 else ""
            if not digits or len(digits) > 6 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise reader.fail("malformed \\u{...} escape")
            reader.pos = end + 1
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise reader.fail("code point above U+10FFFF")
            return code
        code = _hex(reader, 4)
        if 0xD800 <= code <= 0xDBFF and reader.peek() == "\\" and reader.peek(1) == "u":
            mark = reader.pos
            reader.take(2)
            low = _hex(reader, 4)
            if 0xDC00 <= low <= 0xDFFF:
                return 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            reader.pos = mark
        return code
    if letter in IDENTITY_ESCAPES:
        return ord(letter)
    return None


@dataclass
class _ClassItems:
    """The parts of one ``[...]``: Python class fragments and negated shorthands."""

    fragments: list[str] = field(default_factory=list)
    complements: list[str] = field(default_factory=list)  # sets whose complement is included


def _class_atom(reader: _Reader) -> tuple[int | None, str | None, bool]:
    """One class atom: (code point, shorthand set, negated shorthand)."""
    char = reader.take()
    if char != "\\":
        return ord(char), None, False
    letter = reader.take()
    if not letter:
        raise reader.fail("pattern ends with a backslash")
    if letter.lower() in CLASS_ESCAPES:
        return None, CLASS_ESCAPES[letter.lower()], letter.isupper()
    if letter == "b":
        return 0x08, None, False
    if letter == "-":
        return ord("-"), None, False
    code = _code_escape(reader, letter)
    if code is None:
        raise reader.fail(f"\\{letter} is not supported in a character class")
    return code, None, False


def _class(reader: _Reader) -> str:
    """Translate ``[...]`` (the ``[`` already taken) into one Python atom."""
    negated = reader.peek() == "^"
    if negated:
        reader.take()
    items = _ClassItems()
    while True:
        if not reader.peek():
            raise reader.fail("unterminated character class")
        if reader.peek() == "]":
            reader.take()
            break
        code, shorthand, complement = _class_atom(reader)
        if shorthand is not None:
            if reader.peek() == "-" and reader.peek(1) not in ("]", ""):
                raise reader.fail("a class escape cannot start a range")
            (items.complements if complement else items.fragments).append(shorthand)
            continue
        if reader.peek() == "-" and reader.peek(1) not in ("]", ""):
            reader.take()
            high, high_shorthand, _ = _class_atom(reader)
            if high is None or high_shorthand is not None:
                raise reader.fail("a class escape cannot end a range")
            if high < code:
                raise reader.fail("range out of order in character class")
            items.fragments.append(f"{_char(code, True)}-{_char(high, True)}")
        else:
            items.fragments.append(_char(code, True))
    return _class_atom_text(items, negated)


def _class_atom_text(items: _ClassItems, negated: bool) -> str:
    positive = f"[{''.join(items.fragments)}]" if items.fragments else None
    if not items.complements:
        if positive is None:
            return "[\\s\\S]" if negated else "(?!)"
        return f"[^{positive[1:]}" if negated else positive
    if not negated:  # union of the listed characters and the complements
        parts = ([positive] if positive else []) + [f"[^{s}]" for s in items.complements]
        return f"(?:{'|'.join(parts)})"
    # complement of the union = in every complemented set and not among the listed ones
    guard = f"(?!{positive})" if positive else ""
    musts = [f"(?=[{s}])" for s in items.complements[1:]]
    return f"(?:{guard}{''.join(musts)}[{items.complements[0]}])"


def _escape(reader: _Reader) -> tuple[str, bool]:
    """Translate an escape outside a class; returns (python, is_assertion)."""
    letter = reader.take()
    if not letter:
        raise reader.fail("pattern ends with a backslash")
    if letter.lower() in CLASS_ESCAPES:
        chars = CLASS_ESCAPES[letter.lower()]
        return (f"[^{chars}]" if letter.isupper() else f"[{chars}]"), False
    if letter == "b":
        return BOUNDARY, True
    if letter == "B":
        return NOT_BOUNDARY, True
    if letter == "k":
        match = GROUP_NAME.match(reader.pattern, reader.pos)
        if not match:
            raise reader.fail("\\k must name a group as \\k<name>")
        reader.pos = match.end()
        return f"(?P={match.group(1)})", False
    if letter.isdigit() and letter != "0":
        raise reader.fail("back references by number are not supported")
    code = _code_escape(reader, letter)
    if code is None:
        raise reader.fail(f"\\{letter} has no agreed ECMA-262 meaning here")
    return _char(code), False


def _group_open(reader: _Reader) -> str:
    """Translate ``(`` (already taken) and its group kind."""
    if reader.peek() != "?":
        return "("
    for ecma in ("?:", "?=", "?!", "?<=", "?<!"):
        if reader.pattern.startswith(ecma, reader.pos):
            reader.take(len(ecma))
            return "(" + ecma
    match = GROUP_NAME.match(reader.pattern, reader.pos + 1)
    if match:
        reader.pos = match.end()
        return f"(?P<{match.group(1)}>"
    raise reader.fail("only (?:, (?=, (?!, (?<=, (?<! and (?<name> groups are ECMA-262 syntax")


def _quantifier(reader: _Reader) -> str | None:
    """A quantifier at the cursor (with its lazy ``?``), or None."""
    char = reader.peek()
    if char in ("*", "+", "?"):
        text = reader.take()
    else:
        match = QUANTIFIER.match(reader.pattern, reader.pos)
        if not match:
            return None
        reader.pos = match.end()
        text = match.group(0)
    if reader.peek() == "?":
        text += reader.take()
    return text


def ecma_to_python(pattern: str) -> str:
    """The Python regex that accepts exactly the strings ECMA-262 ``pattern`` accepts.

    Raises ContractError naming the pattern when it is not valid ECMA-262 or uses a
    construct gcmx cannot evaluate with the same meaning.
    """
    if not isinstance(pattern, str):
        raise ContractError(f"pattern {pattern!r} is not a string", hint="write the pattern as a string")
    reader = _Reader(pattern)
    out: list[str] = []
    quantifiable = False  # the previous atom may take a quantifier
    lookarounds: list[bool] = []  # open groups: True for assertions, which take no quantifier
    while reader.peek():
        quantifier = _quantifier(reader)
        if quantifier is not None:
            if not quantifiable:
                raise reader.fail(f"nothing to repeat before {quantifier!r}")
            out.append(quantifier)
            quantifiable = False
            continue
        char = reader.take()
        if char == "\\":
            text, assertion = _escape(reader)
            quantifiable = not assertion
        elif char == "[":
            text, quantifiable = _class(reader), True
        elif char == "(":
            text, quantifiable = _group_open(reader), False
            lookarounds.append(text not in ("(", "(?:") and not text.startswith("(?P<"))
        elif char == ")":
            text, quantifiable = ")", not (lookarounds and lookarounds.pop())
        elif char == "|":
            text, quantifiable = "|", False
        elif char == "^":
            text, quantifiable = "^", False
        elif char == "$":
            text, quantifiable = "\\Z", False
        elif char == ".":
            text, quantifiable = LINE_TERMINATORS, True
        elif char in "{}]":
            raise reader.fail(f"a lone {char!r} is not ECMA-262 (u mode) syntax; escape it as \\{char}")
        else:
            text, quantifiable = _char(ord(char)), True
        out.append(text)
    python = "".join(out)
    try:
        re.compile(python)
    except re.error as exc:
        raise ContractError(
            f"pattern {pattern!r}: not a valid regular expression ({exc.msg})",
            hint="fix the pattern (ECMA-262 syntax)",
        ) from None
    return python
