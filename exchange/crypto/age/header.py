"""The textual age header: recipient stanzas, strict parsing, serialisation and the MAC."""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from exchange.crypto.age.errors import HeaderError
from exchange.crypto.age.reader import Reader

VERSION_LINE = b"age-encryption.org/v1\n"
VERSION_PREFIX = b"age-encryption.org/"
COLUMNS = 64
MAX_LINE = 64 * 1024
MAX_HEADER = 1024 * 1024
_B64 = re.compile(rb"[A-Za-z0-9+/]*")
_HINT = "the file is damaged or not an age v1 file; ask the sender to encrypt it again"


def b64encode(data: bytes) -> bytes:
    """Unpadded standard base64, as everywhere in the age header."""
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes) -> bytes:
    """Decode unpadded, canonical standard base64; raise ValueError otherwise."""
    if not _B64.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64")
    data = base64.b64decode(text + b"=" * (-len(text) % 4))
    if b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


def stanza_argument(value: str, size: int, what: str, hint: str) -> bytes:
    """Decode a stanza argument that must be canonical base64 of exactly ``size`` bytes."""
    try:
        data = b64decode(value.encode("ascii"))
    except ValueError:
        raise HeaderError(f"{what} is not canonical base64", hint=hint) from None
    if len(data) != size:
        raise HeaderError(f"{what} is not {size} bytes", hint=hint)
    return data


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 with 32 bytes of output, as the age spec uses it."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt or None, info=info)
    return hkdf.derive(ikm)


@dataclass
class Stanza:
    """One recipient stanza: its type (first argument), further arguments and body."""

    type: str
    args: list[str]
    body: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        """Serialise as ``-> type args...`` plus the body wrapped at 64 columns."""
        out = b"-> " + " ".join([self.type, *self.args]).encode("ascii") + b"\n"
        encoded = b64encode(self.body)
        full = len(encoded) // COLUMNS * COLUMNS
        for start in range(0, full, COLUMNS):
            out += encoded[start : start + COLUMNS] + b"\n"
        return out + encoded[full:] + b"\n"


@dataclass
class Header:
    """A parsed header: stanzas, the MAC and the exact bytes the MAC covers."""

    stanzas: list[Stanza]
    mac: bytes = field(repr=False)
    mac_input: bytes = field(repr=False)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA-256 of the header up to and including ``---``."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, mac_input, sha256).digest()


def serialize_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """Return the complete header (version line, stanzas, MAC line)."""
    mac_input = VERSION_LINE + b"".join(s.to_bytes() for s in stanzas) + b"---"
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)) + b"\n"


def _fail(what: str) -> HeaderError:
    return HeaderError(f"age header is malformed: {what}", hint=_HINT)


def _is_argument(arg: bytes) -> bool:
    return bool(arg) and all(33 <= c <= 126 for c in arg)


def _next_line(reader: Reader, consumed: int) -> bytes:
    if consumed > MAX_HEADER:
        raise _fail("header is larger than 1 MiB")
    line = reader.readline(MAX_LINE)
    if not line.endswith(b"\n"):
        raise _fail("unexpected end of file or over-long line inside the header")
    return line


def _parse_stanza_body(reader: Reader, lines: list[bytes], consumed: int) -> bytes:
    body_text = b""
    while True:
        line = _next_line(reader, consumed)
        lines.append(line)
        consumed += len(line)
        text = line[:-1]
        if len(text) > COLUMNS or not _B64.fullmatch(text):
            raise _fail("a stanza body line is too long or not base64")
        body_text += text
        if len(text) < COLUMNS:
            break
    try:
        return b64decode(body_text)
    except ValueError:
        raise _fail("a stanza body is not canonical base64") from None


def parse_header(reader: Reader) -> Header:
    """Parse a v1 header strictly (see c2sp.org/age); raise :class:`HeaderError`."""
    first = reader.readline(len(VERSION_LINE))
    if first != VERSION_LINE:
        if first.startswith(VERSION_PREFIX):
            raise HeaderError(
                "unsupported age format version (only age-encryption.org/v1 is known)",
                hint="decrypt it with a newer age implementation",
            )
        raise _fail("it does not start with the age-encryption.org/v1 line")
    lines = [first]
    stanzas: list[Stanza] = []
    while True:
        consumed = sum(map(len, lines))
        line = _next_line(reader, consumed)
        lines.append(line)
        if line.startswith(b"---"):
            break
        if not line.startswith(b"-> "):
            raise _fail("expected a '-> ' stanza or the '---' MAC line")
        args = line[3:-1].split(b" ")
        if not all(_is_argument(a) for a in args):
            raise _fail("a stanza has an empty or invalid argument")
        body = _parse_stanza_body(reader, lines, consumed + len(line))
        decoded = [a.decode("ascii") for a in args]
        stanzas.append(Stanza(decoded[0], decoded[1:], body))
    if not stanzas:
        raise _fail("the header has no recipient stanza")
    last = lines[-1]
    if len(last) != 3 + 1 + 43 + 1 or last[3:4] != b" ":
        raise _fail("the MAC line is not '--- ' followed by 43 base64 characters")
    try:
        mac = b64decode(last[4:-1])
    except ValueError:
        raise _fail("the MAC is not canonical base64") from None
    mac_input = b"".join(lines[:-1]) + b"---"
    return Header(stanzas, mac, mac_input)
