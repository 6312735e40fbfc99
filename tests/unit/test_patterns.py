"""Contract patterns are evaluated with their ECMA-262 meaning (exchange/contract/patterns.py).

ECMA_ACCEPTS was produced by V8 (node 20, ``new RegExp(pattern, "u").test(string)``) for
every pattern against every string in STRINGS; ``python tests/unit/test_patterns.py``
prints it again where node is installed. The translated Python regex must agree on all
of them, and the hypothesis properties check the same meaning on random strings.
"""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.contract.model import all_contracts
from exchange.contract.patterns import ecma_to_python
from exchange.errors import ContractError

PERIOD = r"^\d{4}-(?:0[1-9]|1[0-2])$"
STRINGS = ["2025-03", "2025-03\n", "\n2025-03", "\u0662\u0660\u0662\u0665-\u0660\u0663",
           "\uff12\uff10\uff12\uff15-\uff10\uff13", " 2025-03", "2025-03 ", "2025-13", "2025-3", "", "\n", "\r",
           "\u2028", "\u00a0", "\u200b", "\ufeff", "\x0b", "ab", "a b", "aab", "éb", "a", "aa", "aaab", "ab\n",
           "5", "7", "\u0665", "x", "-", "a-", "_-", "é", "😀", "\x00", "\x08", "1-1", "1-2", "1x", "x1", "$",
           "[]{}/", "b", "a\n", "\nb", "12", "1\n"]
# pattern -> one mark per string of STRINGS: + where V8 finds a match, . where not
ECMA_ACCEPTS = {
    '^\\d{4}-(?:0[1-9]|1[0-2])$': '+..............................................',
    '^\\d+$': '.........................++..................+.',
    '\\D': '+++++++++.+++++++++++++++..++++++++++++++++++.+',
    '^\\w+$': '.................+.+.+++.++.+.........++..+..+.',
    '\\W': '+++++++++.+++++++.+.+...+..+.+++++++++..++.++.+',
    '^\\s*$': '.........+++++.++..............................',
    '\\S': '+++++++++.....+..++++++++++++++++++++++++++++++',
    '\\bab\\b': '.................+......+......................',
    'a\\Bb': '.................+.+...++......................',
    '^.$': '.............++++....+...+++++..++++....+.+....',
    '^[]$': '...............................................',
    '^[^]$': '..........+++++++....+...+++++..++++....+.+....',
    '^[\\d.-]+$': '+......++................++..+......++.......+.',
    '^[^\\d]$': '..........+++++++....+.....+++..++++....+.+....',
    '^[\\Da]$': '..........+++++++....+.....+++..++++....+.+....',
    '^[^\\D5]$': '..........................+....................',
    '^[\\w-]{2}$': '.................+....+.......++......++.....+.',
    '^a{2,}$': '......................+........................',
    '^a{1,2}?b$': '.................+.+...........................',
    '^\\cJ$': '..........+....................................',
    '^\\0$': '..................................+............',
    '^\\u{1F600}$': '.................................+.............',
    '^\\u00e9$': '................................+..............',
    '^(?<y>\\d)-\\k<y>$': '....................................+..........',
    '^(?=\\d)\\w+$': '.........................++...........+......+.',
    '^(?!x)\\w$': '.....................+...++...............+....',
    '(?<=\\d)x': '......................................+........',
    '\\$$': '........................................+......',
    '^\\[\\]\\{\\}\\/$': '.........................................+.....',
    '^[\\b]$': '...................................+...........',
    '^a|b$': '.................++++++++.....+...........+++..',
    '^[-a]$': '.....................+.......+.................',
}
CONTRACT_PATTERNS = sorted({c.pattern for k in all_contracts() for c in k.columns.values() if c.pattern})
ASCII_DIGITS = "0123456789"
MONTHS = {f"{m:02d}" for m in range(1, 13)}
# Digits of other scripts, line terminators and look-alikes that Python's defaults accept.
TRICKY = ["\n", "\r", "\u2028", " ", "\u00a0", "\u0660", "\u0663", "\u06f5", "\u0967", "\uff10", "\uff19",
          "\U0001d7ce", "-", "\u2010", "\u2212", "Q", "a", "_"]


def ecma_period(text: str) -> bool:
    """The contracts' period pattern as ECMA-262 defines it, by hand: YYYY-MM, ASCII, nothing else."""
    return (len(text) == 7 and all(c in ASCII_DIGITS for c in text[:4]) and text[4] == "-"
            and text[5:] in MONTHS)


def matches(pattern: str, text: str) -> bool:
    """How GX applies a regex expectation: a search (pandas ``str.contains``)."""
    return re.search(ecma_to_python(pattern), text) is not None


def test_the_contracts_use_the_period_pattern():
    assert CONTRACT_PATTERNS == [PERIOD]
    assert ecma_to_python(PERIOD) == r"^[0-9]{4}-(?:0[1-9]|1[0-2])\Z"


@pytest.mark.parametrize("pattern", sorted(ECMA_ACCEPTS))
def test_translation_agrees_with_v8(pattern: str):
    marks = "".join("+" if matches(pattern, text) else "." for text in STRINGS)
    expected = ECMA_ACCEPTS[pattern]
    assert marks == expected, [text for text, m, e in zip(STRINGS, marks, expected, strict=True) if m != e]


def test_python_defaults_would_have_let_malformed_periods_through():
    for text in ("2025-03\n", "\u0662\u0660\u0662\u0665-03", "\uff12\uff10\uff12\uff15-03", "\U0001d7d0025-03"):
        assert re.search(PERIOD, text) and not matches(PERIOD, text)


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("(?i)abc", "only (?:, (?=, (?!"),  # Python-only inline flag
        ("a*+", "nothing to repeat"),  # Python-only possessive quantifier
        ("(?>a)", "only (?:, (?=, (?!"),  # Python-only atomic group
        ("(?P<n>a)", "only (?:, (?=, (?!"),  # Python's named-group spelling
        (r"(a)\1", "back references by number"),
        (r"\p{Nd}", r"\p has no agreed"),
        (r"\A\d\Z", r"\A has no agreed"),  # Python anchors are identity escapes or errors in ECMA
        (r"\07", "octal escapes"),
        (r"\-", r"\- has no agreed"),  # u mode allows \- only inside a class
        ("a{,5}", "a lone '{'"),  # Python reads {,5} as {0,5}
        ("a}", "a lone '}'"),
        ("a]", "a lone ']'"),
        ("[a", "unterminated character class"),
        (r"[\d-z]", "a class escape cannot start a range"),
        ("[z-a]", "range out of order"),
        ("(?=a)*", "nothing to repeat"),
        (r"\b+", "nothing to repeat"),
        ("(a", "not a valid regular expression"),
        ("(?<$x>a)", "not a valid regular expression"),  # an ECMA group name Python cannot spell
        ("a\\", "pattern ends with a backslash"),
    ],
)
def test_constructs_without_an_exact_meaning_are_refused(pattern: str, problem: str):
    with pytest.raises(ContractError, match=re.escape(problem)) as info:
        ecma_to_python(pattern)
    assert repr(pattern) in info.value.message and info.value.hint


def _near_periods():
    valid = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 9999), st.integers(1, 12))

    def mutate(text: str, position: int, char: str, how: int) -> str:
        position %= len(text) + 1
        if how == 0:
            return text[:position] + char + text[position:]
        if how == 1:
            return text[:position] + char + text[position + 1:]
        return text + char if how == 2 else char + text

    mutated = st.builds(mutate, valid, st.integers(0, 8), st.sampled_from(TRICKY), st.integers(0, 3))
    return st.one_of(valid, mutated, st.text(max_size=9), st.text(st.sampled_from(ASCII_DIGITS + "-\n"), max_size=9))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_near_periods(), pattern=st.sampled_from(CONTRACT_PATTERNS))
def test_contract_patterns_match_exactly_what_ecma_accepts(text: str, pattern: str):
    assert matches(pattern, text) == ecma_period(text)


@settings(max_examples=300, deadline=None)
@given(char=st.characters())
def test_shorthands_are_ascii_and_dot_stops_at_every_line_terminator(char: str):
    assert matches(r"^\d$", char) == (char in ASCII_DIGITS)
    assert matches(r"^\D$", char) == (char not in ASCII_DIGITS)
    assert matches(r"^\w$", char) == (char.isascii() and (char.isalnum() or char == "_"))
    assert matches(r"^.$", char) == (char not in "\n\r\u2028\u2029")
    ecma_space = char in "\t\n\x0b\x0c\r\u2028\u2029\ufeff" or unicodedata.category(char) == "Zs"
    assert matches(r"^\s$", char) == ecma_space and matches(r"^\S$", char) != ecma_space


ATOMS = ["a", "-", r"\d", r"\w", ".", "[a-c]", r"[^\d\s]", r"\u00e9", "(?:ab|c)"]  # none matches a newline


@settings(max_examples=300, deadline=None)
@given(atoms=st.lists(st.tuples(st.sampled_from(ATOMS), st.sampled_from(["", "*", "+", "?", "{2}"])),
                      min_size=1, max_size=5),
       text=st.text(st.sampled_from("abc-é5\u0665\uff15_"), max_size=8))
def test_no_string_ending_in_a_newline_matches_a_pattern_ending_in_dollar(atoms, text: str):
    pattern = "^" + "".join(atom + quantifier for atom, quantifier in atoms) + "$"
    assert not matches(pattern, text + "\n")
    assert not matches(pattern, text + "\r\n")


if __name__ == "__main__":  # regenerate ECMA_ACCEPTS with V8
    SCRIPT = ("const [ps, ss] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "process.stdout.write(JSON.stringify(ps.map(p => {const r = new RegExp(p, 'u');"
              " return ss.map(s => r.test(s));})));")
    verdicts = json.loads(subprocess.run(["node", "-e", SCRIPT], input=json.dumps([list(ECMA_ACCEPTS), STRINGS]),
                                         capture_output=True, text=True, check=True).stdout)
    print("# pattern -> one mark per string of STRINGS: + where V8 finds a match, . where not")
    print("ECMA_ACCEPTS = {")
    for pattern, row in zip(ECMA_ACCEPTS, verdicts, strict=True):
        print(f"    {pattern!r}: {''.join('+' if ok else '.' for ok in row)!r},")
    print("}")


@pytest.mark.parametrize(
    "period", ["2026-10\n", "\u0662\u0660\u0662\u0666-10", "\uff12\uff10\uff12\uff16-10", " 2026-10"], ids=repr
)
def test_a_declared_period_follows_the_same_rules(period: str):
    from exchange.contract.model import load_contract, parse_period

    contract = load_contract("workers_deployed.khm-tha")
    assert parse_period(contract, "2026-10").text == "2026-10"
    with pytest.raises(ContractError, match="is not a monthly period"):
        parse_period(contract, period)
