"""Offline verification of an audit log's hash chain, optionally against a signed checkpoint.

The verdict is data: every problem names the line and what is wrong — an edited entry (the
chain breaks at it), dropped entries (seq jumps), an inserted or duplicated entry (the chain
skips it), reordered entries (an entry stands before the one it chains to, or seq goes back),
malformed JSON, a tail truncated below the checkpoint, or a head that differs from the
checkpoint's (the chain was rewritten consistently). See ``exchange.audit.log`` for the format.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from exchange.audit.checkpoint import Checkpoint

GENESIS = "0" * 64
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = {"seq": int, "time": str, "party": str, "event": str, "prev": str}


@dataclass(frozen=True)
class AuditVerdict:
    """What ``verify_log`` found: ``ok`` when ``problems`` is empty."""

    path: str
    entries: int
    head_seq: int
    head: str
    problems: list[str] = field(default_factory=list)
    checkpoint_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        """A JSON-ready form for reports and ``gcmx audit verify --json``."""
        return {"path": self.path, "ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head": self.head, "checkpoint_seq": self.checkpoint_seq, "problems": list(self.problems)}


@dataclass
class _Line:
    number: int
    digest: str
    entry: dict | None  # None when malformed
    pred: int | None = None  # the line whose hash ``prev`` names (0 = genesis)


def _parse(number: int, raw: bytes) -> tuple[dict | None, str | None]:
    if not raw.endswith(b"\n"):
        return None, f"line {number}: incomplete last line (no newline): an interrupted write or a cut file"
    try:
        entry = json.loads(raw)
    except ValueError:
        return None, f"line {number}: malformed JSON"
    if not isinstance(entry, dict):
        return None, f"line {number}: malformed entry (not a JSON object)"
    for name, kind in _FIELDS.items():
        value = entry.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return None, f"line {number}: malformed entry (missing or invalid '{name}')"
    if not _HEX64.match(entry["prev"]):
        return None, f"line {number}: malformed entry ('prev' is not a SHA-256 hex digest)"
    return entry, None


class _Checker:
    """Classifies the breaks of one log's chain; each line is blamed at most once."""

    def __init__(self, lines: list[_Line]):
        self.lines = lines
        self.problems: list[tuple[int, str]] = []
        self.blamed: set[int] = set()  # lines a problem is about
        self.excused: set[int] = set()  # lines whose odd link a problem already explains
        self.outside: set[int] = {line.number for line in lines if not line.entry}  # not in the chain
        self.referenced = Counter(line.entry["prev"] for line in lines if line.entry)
        by_digest: dict[str, int] = {}
        for line in lines:
            by_digest.setdefault(line.digest, line.number)
        for line in lines:
            if line.entry:
                prev = line.entry["prev"]
                line.pred = 0 if prev == GENESIS else by_digest.get(prev)

    def blame(self, number: int, message: str) -> None:
        if number not in self.blamed:
            self.blamed.add(number)
            self.problems.append((number, message))

    def seq(self, number: int) -> int:
        """Seq of line ``number`` (0 before line 1; -1 if malformed)."""
        if number == 0:
            return 0
        entry = self.lines[number - 1].entry
        return entry["seq"] if entry else -1

    def chain_seq_before(self, number: int) -> int:
        """Seq of the nearest earlier line that belongs to the chain (0 if none)."""
        for earlier in range(number - 1, 0, -1):
            if earlier not in self.outside:
                return self.seq(earlier)
        return 0

    def run(self) -> None:
        self._duplicates()
        for check in (self._inserted, self._reordered, self._broken, self._sequence):
            for line in self.lines:
                if line.number not in self.outside:
                    check(line)

    def _duplicates(self) -> None:
        first: dict[str, int] = {}
        for line in self.lines:
            if line.digest in first:
                self.blame(line.number, f"line {line.number}: inserted entry, a copy of line "
                                        f"{first[line.digest]}")
                self.excused.add(line.number + 1)
                self.outside.add(line.number)
            first.setdefault(line.digest, line.number)

    def _inserted(self, line: _Line) -> None:
        n, p = line.number, line.pred
        if p is None or p >= n - 1 or n in self.excused:
            return
        skipped = [self.lines[k - 1] for k in range(p + 1, n)]
        if all(self.referenced[s.digest] == 0 for s in skipped):
            for s in skipped:
                self.blame(s.number, f"line {s.number}: inserted entry, not part of the hash chain "
                                     f"(line {n} chains to {f'line {p}' if p else 'the start'})")
                self.outside.add(s.number)
            self.excused.add(n)

    def _reordered(self, line: _Line) -> None:
        n, p, s = line.number, line.pred, line.entry["seq"]
        if p is None or n in self.excused or n in self.blamed:
            return  # a line chaining to nothing is a break, not a move
        before = self.chain_seq_before(n)
        if p >= n:
            self.blame(n, f"line {n}: reordered entries: seq {s} stands before seq {self.seq(p)} "
                          f"(line {p}), the entry it follows")
        elif s < before:
            self.blame(n, f"line {n}: reordered entries: seq {s} comes after seq {before}")
        elif p < n - 1 and not any(k in self.blamed for k in range(p + 1, n)):
            self.blame(n, f"line {n}: reordered entries: it chains to line {p}, not line {n - 1}")
        elif p == n - 1:
            return
        self.excused.add(n)  # a move between p and n is already named

    def _broken(self, line: _Line) -> None:
        n, s = line.number, line.entry["seq"]
        if line.pred is not None or n in self.excused:
            return
        self.excused.add(n)
        if n == 1:
            if s > 1:
                self.blame(1, f"line 1: seq starts at {s}: {_count(s - 1)} dropped before it")
            else:
                self.blame(1, "line 1: entry edited: hash chain breaks at line 1 ('prev' is not the start)")
            return
        if self.lines[n - 2].entry is None:
            return  # the malformed line before it is the problem, already named
        before = self.chain_seq_before(n)
        in_chain = n - 1 not in self.outside
        if in_chain and (s == before + 1 or s == self.chain_seq_before(n - 1) + 2):
            self.blame(n - 1, f"line {n - 1}: entry edited: hash chain breaks at line {n - 1} "
                              f"(its SHA-256 does not match 'prev' of line {n})")
        elif s > before + 1:
            self.blame(n, f"line {n}: seq jumps from {before} to {s}: {_count(s - before - 1)} "
                          f"dropped before line {n}")
        else:
            self.blame(n, f"line {n}: hash chain breaks: its 'prev' matches no entry in the log")

    def _sequence(self, line: _Line) -> None:
        n, s = line.number, line.entry["seq"]
        if n in self.blamed or n in self.excused:
            return
        before = self.chain_seq_before(n)
        if s != before + 1:
            self.blame(n, f"line {n}: seq {s} does not follow seq {before} (expected {before + 1})")


def _count(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _check_against(checker: _Checker, lines: list[_Line], checkpoint: Checkpoint, party: str | None) -> None:
    cp_seq, cp_head, cp_party = checkpoint.seq, checkpoint.head, checkpoint.party
    end = len(lines) + 1
    if party is not None and cp_party != party:
        checker.problems.append((0, f"checkpoint: it is {cp_party}'s but the log is {party}'s"))
        return
    chain = [line for line in lines if line.number not in checker.outside]
    last_seq = max((line.entry["seq"] for line in chain), default=0)
    if last_seq < cp_seq:
        checker.problems.append((end, f"line {end}: log truncated: it ends at seq {last_seq} but the "
                                      f"signed checkpoint covers seq {cp_seq}"))
        return
    if cp_seq == 0:
        return
    at = next((line for line in chain if line.entry["seq"] == cp_seq), None)
    if at is None:
        checker.problems.append((end, f"line {end}: no entry with the checkpoint's seq {cp_seq}"))
    elif at.digest != cp_head:
        checker.problems.append((at.number, f"line {at.number}: head at checkpoint seq {cp_seq} does not "
                                            "match the signed checkpoint: the log was rewritten at or "
                                            f"before seq {cp_seq}"))


def verify_log(path: Path, checkpoint: Checkpoint | None = None) -> AuditVerdict:
    """Check the chain of the log at ``path``; with a verified ``checkpoint`` (see
    ``exchange.audit.log.load_checkpoint``) also that nothing up to its seq was cut or rewritten.

    A missing file reads as an empty log. Never raises for tampering: read ``.problems``.
    """
    path = Path(path)
    raw_lines = path.read_bytes().splitlines(keepends=True) if path.exists() else []
    lines, problems = [], []
    for number, raw in enumerate(raw_lines, start=1):
        entry, problem = _parse(number, raw)
        if problem:
            problems.append((number, problem))
        lines.append(_Line(number, hashlib.sha256(raw).hexdigest(), entry))
    checker = _Checker(lines)
    checker.blamed.update(number for number, _ in problems)
    checker.problems.extend(problems)
    checker.run()
    parties = Counter(line.entry["party"] for line in lines if line.entry)
    party = parties.most_common(1)[0][0] if parties else None
    for line in lines:
        if line.entry and line.entry["party"] != party and line.number not in checker.blamed:
            checker.blame(line.number, f"line {line.number}: entry of party {line.entry['party']} "
                                       f"in {party}'s log")
    if checkpoint is not None:
        _check_against(checker, lines, checkpoint, party)
    last = lines[-1] if lines else None
    return AuditVerdict(
        path=str(path),
        entries=len(lines),
        head_seq=last.entry["seq"] if last and last.entry else 0,
        head=last.digest if last else GENESIS,
        problems=[message for _, message in sorted(checker.problems)],
        checkpoint_seq=checkpoint.seq if checkpoint is not None else None,
    )
