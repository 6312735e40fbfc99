"""minisign signatures: Ed25519 over the BLAKE2b-512 prehash, compatible with the ``minisign`` CLI.

Format (https://jedisct1.github.io/minisign/): a public key is ``"Ed" || key_id(8) || pk(32)``;
a signature file has four lines — untrusted comment, base64 of ``"ED" || key_id || sig`` where
``sig = Ed25519(BLAKE2b-512(data))``, trusted comment, and base64 of the global signature
``Ed25519(sig || trusted_comment)``. Secret key files are written unencrypted (service use) or
protected with a password through scrypt (``Sc``), exactly as ``minisign -G`` writes them.

Key ids are shown as minisign shows them: the 8 bytes read as a little-endian integer, upper-case
hex. Secret key material never appears in messages or reprs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from exchange.errors import CryptoError, NotFound, SignatureError

KEY_ALG = b"Ed"
PREHASHED_ALG = b"ED"
LEGACY_ALG = b"Ed"
CHECKSUM_ALG = b"B2"
UNTRUSTED = "untrusted comment: "
TRUSTED = "trusted comment: "
DEFAULT_UNTRUSTED_COMMENT = "signature from gcmx"
SIGNATURE_SUFFIX = ".minisig"
KDF_NONE = b"\0\0"
KDF_SCRYPT = b"Sc"
MINISIGN_OPSLIMIT = 1 << 25  # libsodium's scrypt "sensitive" limits, as minisign -G uses
MINISIGN_MEMLIMIT = 1 << 30
_MAX_SCRYPT_N_LOG2 = 20  # 1 GiB with r=8: refuse files asking for more
_CHUNK = 1 << 16
_MAX_COMMENT_BYTES = 8000  # minisign reads lines of up to 8 KiB
_HINT_KEY_FILE = "use a key file written by `minisign -G` or `gcmx keys generate`"


def _display_key_id(key_id: bytes) -> str:
    return f"{int.from_bytes(key_id, 'little'):X}"


def _prehash_file(path: Path) -> bytes:
    digest = hashlib.blake2b()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def _scrypt_stream(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    """The 104-byte key stream minisign XORs over the secret key (libsodium's pickparams)."""
    opslimit, r, p = max(opslimit, 32768), 8, 1
    max_n = opslimit // (r * 4) if opslimit < memlimit // 32 else memlimit // (r * 128)
    n_log2 = 1
    while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
        n_log2 += 1
    if opslimit >= memlimit // 32:
        p = max(min(0x3FFFFFFF, (opslimit // 4) // (1 << n_log2)) // r, 1)
    if n_log2 > _MAX_SCRYPT_N_LOG2 or p > 16:
        raise CryptoError("secret key asks for excessive scrypt work", hint=_HINT_KEY_FILE)
    return Scrypt(salt=salt, length=104, n=1 << n_log2, r=r, p=p).derive(password.encode())


def _read_text(path: Path, what: str, hint: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{what} {path} does not exist", hint=hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CryptoError(f"cannot read {what} {path}: {exc.__class__.__name__}", hint=hint) from None


def _b64(line: str, length: int) -> bytes | None:
    try:
        raw = base64.b64decode(line.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == length else None


def _check_comment(comment: str, what: str) -> None:
    if any(ch in comment for ch in "\r\n\0"):
        raise SignatureError(f"{what} contains a line break or NUL", hint="use a one-line comment")
    try:
        encoded = comment.encode()
    except UnicodeEncodeError:
        raise SignatureError(f"{what} is not valid text (a lone surrogate)",
                             hint="use a one-line comment of ordinary characters") from None
    if len(encoded) > _MAX_COMMENT_BYTES:
        raise SignatureError(
            f"{what} is longer than {_MAX_COMMENT_BYTES} bytes",
            hint="minisign cannot read longer comments; shorten it",
        )


def _key_lines(text: str, what: str, source: str) -> str:
    """The base64 line of a two-line minisign key file (or a bare base64 line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) == 2 and lines[0].startswith(UNTRUSTED):
        return lines[1]
    if len(lines) == 1 and not lines[0].startswith(UNTRUSTED):
        return lines[0]
    raise CryptoError(f"{source} is not a minisign {what} file", hint=_HINT_KEY_FILE)


@dataclass(frozen=True)
class _Signature:
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes

    @classmethod
    def parse(cls, text: bytes | str, source: str) -> _Signature:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        lines = text.splitlines()
        hint = "the signature file is damaged or not a minisign signature; fetch it again"
        if len(lines) != 4 or not lines[0].startswith(UNTRUSTED) or not lines[2].startswith(TRUSTED):
            raise SignatureError(f"{source} is malformed: expected 4 minisign lines", hint=hint)
        body = _b64(lines[1], 74)
        global_signature = _b64(lines[3], 64)
        if body is None or global_signature is None:
            raise SignatureError(f"{source} is malformed: bad base64 line", hint=hint)
        if body[:2] == LEGACY_ALG:
            raise SignatureError(
                f"signature {source} uses the legacy non-prehashed algorithm Ed",
                hint="sign again with a current minisign (prehashed, the default) or gcmx sign",
            )
        if body[:2] != PREHASHED_ALG:
            raise SignatureError(f"{source} is malformed: unknown algorithm", hint=hint)
        return cls(body[2:10], body[10:], lines[2][len(TRUSTED) :], global_signature)


def signature_key_id(signature: bytes | str, source: str = "signature") -> str:
    """The id of the key that made ``signature`` (as minisign shows it); SignatureError when the
    text is no minisign signature. Says nothing about whether the signature is genuine."""
    return _display_key_id(_Signature.parse(signature, source).key_id)


class PublicKey:
    """A minisign public key: verifies signatures, shows its key id."""

    def __init__(self, key_id: bytes, key: Ed25519PublicKey):
        self._key_id = key_id
        self._key = key

    @classmethod
    def from_string(cls, text: str, source: str = "public key") -> PublicKey:
        """Parse a public key file's text, or the bare base64 line (``minisign -P``)."""
        raw = _b64(_key_lines(text, "public key", source), 42)
        if raw is None or raw[:2] != KEY_ALG:
            raise CryptoError(f"{source} is not a minisign Ed25519 public key", hint=_HINT_KEY_FILE)
        return cls(raw[2:10], Ed25519PublicKey.from_public_bytes(raw[10:]))

    @classmethod
    def from_file(cls, path: Path | str) -> PublicKey:
        """Read a ``.pub`` file as ``minisign -G`` writes it."""
        hint = "ask the key's owner for their minisign .pub file"
        return cls.from_string(_read_text(Path(path), "minisign public key", hint), str(path))

    @property
    def key_id(self) -> str:
        """The key id as minisign shows it (upper-case hex)."""
        return _display_key_id(self._key_id)

    @property
    def base64(self) -> str:
        """The one-line form accepted by ``minisign -P``."""
        raw = self._key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(KEY_ALG + self._key_id + raw).decode()

    def to_string(self) -> str:
        """The text of a ``.pub`` file."""
        return f"{UNTRUSTED}minisign public key {self.key_id}\n{self.base64}\n"

    def write(self, path: Path | str) -> Path:
        """Write the ``.pub`` file."""
        path = Path(path)
        path.write_text(self.to_string(), encoding="utf-8")
        return path

    def verify(self, data: bytes, signature: bytes | str, source: str = "signature") -> str:
        """Check ``signature`` (the .minisig text) over ``data``; return the trusted comment."""
        return self._verify_prehash(hashlib.blake2b(data).digest(), signature, source)

    def verify_file(self, path: Path | str, signature_path: Path | str | None = None) -> str:
        """Check ``path`` against its ``.minisig`` (or ``signature_path``); return the trusted comment."""
        path = Path(path)
        signature_path = Path(signature_path or f"{path}{SIGNATURE_SUFFIX}")
        hint = f"fetch {signature_path.name} together with {path.name}"
        signature = _read_text(signature_path, "signature file", hint)
        if not path.is_file():
            raise NotFound(f"signed file {path} does not exist", hint="check the path")
        return self._verify_prehash(_prehash_file(path), signature, str(signature_path))

    def _verify_prehash(self, prehash: bytes, signature: bytes | str, source: str) -> str:
        sig = _Signature.parse(signature, source)
        if not hmac.compare_digest(sig.key_id, self._key_id):
            raise SignatureError(
                f"{source} was signed by key {_display_key_id(sig.key_id)}, expected {self.key_id}",
                hint="verify with the signer's current public key; the keyring may be stale",
            )
        try:
            self._key.verify(sig.signature, prehash)
        except InvalidSignature:
            raise SignatureError(
                f"bad signature: {source} does not match the signed data",
                hint="the data was altered or the signature belongs to other data; do not use it",
            ) from None
        try:
            self._key.verify(sig.global_signature, sig.signature + sig.trusted_comment.encode())
        except InvalidSignature:
            raise SignatureError(
                f"bad global signature: the trusted comment of {source} was altered",
                hint="the signature file was tampered with; fetch it again from the signer",
            ) from None
        return sig.trusted_comment

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.to_string() == other.to_string()

    def __hash__(self) -> int:
        return hash(self.to_string())

    def __repr__(self) -> str:
        return f"PublicKey(key_id={self.key_id})"


class SecretKey:
    """A minisign secret key. Its repr shows only the key id."""

    def __init__(self, key_id: bytes, key: Ed25519PrivateKey):
        self._key_id = key_id
        self._key = key
        self.public_key = PublicKey(key_id, key.public_key())

    @classmethod
    def from_file(cls, path: Path | str, password: str | None = None) -> SecretKey:
        """Read a secret key file written by ``minisign -G`` (with or without ``-W``) or by us."""
        hint = "run `gcmx keys generate` or point to the right key file"
        return cls.from_string(_read_text(Path(path), "minisign secret key", hint), password, str(path))

    @classmethod
    def from_string(cls, text: str, password: str | None = None, source: str = "secret key") -> SecretKey:
        """Parse a secret key file's text (e.g. held in an Airflow connection); ``source`` names it."""
        raw = _b64(_key_lines(text, "secret key", source), 158)
        if raw is None or raw[:2] != KEY_ALG or raw[4:6] != CHECKSUM_ALG:
            raise CryptoError(f"{source} is not a minisign Ed25519 secret key", hint=_HINT_KEY_FILE)
        kdf, salt = raw[2:4], raw[6:38]
        opslimit = int.from_bytes(raw[38:46], "little")
        memlimit = int.from_bytes(raw[46:54], "little")
        keynum = raw[54:]
        if kdf == KDF_SCRYPT:
            if password is None:
                raise PasswordRequired(
                    f"minisign secret key {source} is password-protected",
                    hint="give its password, or write an unencrypted copy for service use",
                )
            stream = _scrypt_stream(password, salt, opslimit, memlimit)
            keynum = bytes(a ^ b for a, b in zip(keynum, stream, strict=True))
        elif kdf != KDF_NONE:
            raise CryptoError(f"{source}: unsupported key derivation in secret key", hint=_HINT_KEY_FILE)
        key_id, seed, public, checksum = keynum[:8], keynum[8:40], keynum[40:72], keynum[72:]
        wrong = "wrong password for" if kdf == KDF_SCRYPT else "corrupt"
        computed = _checksum(key_id, seed, public)
        # minisign 0.11 leaves the checksum of unencrypted (-W) keys zero
        if not hmac.compare_digest(checksum, computed) and (kdf == KDF_SCRYPT or any(checksum)):
            raise CryptoError(f"{wrong} minisign secret key {source}", hint="check the password or the file")
        key = Ed25519PrivateKey.from_private_bytes(seed)
        if key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != public:
            raise CryptoError(f"corrupt minisign secret key {source}", hint=_HINT_KEY_FILE)
        return cls(key_id, key)

    def write(
        self,
        path: Path | str,
        password: str | None = None,
        *,
        opslimit: int = MINISIGN_OPSLIMIT,
        memlimit: int = MINISIGN_MEMLIMIT,
    ) -> Path:
        """Write the key file (mode 0600, never overwriting); scrypt-protect it if ``password``.

        ``opslimit``/``memlimit`` are minisign's own defaults (1 GiB, a few seconds).
        """
        path = Path(path)
        seed = self._key.private_bytes_raw()
        public = self.public_key._key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        keynum = self._key_id + seed + public + _checksum(self._key_id, seed, public)
        if password is None:
            kdf, salt, opslimit, memlimit = KDF_NONE, bytes(32), 0, 0
            comment = "minisign secret key"
        else:
            kdf, salt = KDF_SCRYPT, secrets.token_bytes(32)
            stream = _scrypt_stream(password, salt, opslimit, memlimit)
            keynum = bytes(a ^ b for a, b in zip(keynum, stream, strict=True))
            comment = "minisign encrypted secret key"
        raw = (
            KEY_ALG
            + kdf
            + CHECKSUM_ALG
            + salt
            + opslimit.to_bytes(8, "little")
            + memlimit.to_bytes(8, "little")
            + keynum
        )
        text = f"{UNTRUSTED}{comment}\n{base64.b64encode(raw).decode()}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CryptoError(
                f"{path} already exists; not overwriting a secret key",
                hint="choose another path or move the old key away first",
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        return path

    @property
    def key_id(self) -> str:
        """The key id as minisign shows it."""
        return self.public_key.key_id

    def sign(
        self,
        data: bytes,
        trusted_comment: str,
        untrusted_comment: str = DEFAULT_UNTRUSTED_COMMENT,
    ) -> bytes:
        """Sign ``data``; return the ``.minisig`` text."""
        return self._sign_prehash(hashlib.blake2b(data).digest(), trusted_comment, untrusted_comment)

    def sign_file(self, path: Path | str, trusted_comment: str) -> Path:
        """Sign a file (streamed through the prehash); write and return ``path + ".minisig"``."""
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"file to sign {path} does not exist", hint="check the path")
        signature = self._sign_prehash(_prehash_file(path), trusted_comment, DEFAULT_UNTRUSTED_COMMENT)
        signature_path = Path(f"{path}{SIGNATURE_SUFFIX}")
        signature_path.write_bytes(signature)
        return signature_path

    def _sign_prehash(self, prehash: bytes, trusted_comment: str, untrusted_comment: str) -> bytes:
        _check_comment(trusted_comment, "trusted comment")
        _check_comment(untrusted_comment, "untrusted comment")
        signature = self._key.sign(prehash)
        global_signature = self._key.sign(signature + trusted_comment.encode())
        body = base64.b64encode(PREHASHED_ALG + self._key_id + signature).decode()
        return (
            f"{UNTRUSTED}{untrusted_comment}\n{body}\n"
            f"{TRUSTED}{trusted_comment}\n{base64.b64encode(global_signature).decode()}\n"
        ).encode()

    def __repr__(self) -> str:
        return f"SecretKey(key_id={self.key_id})"


class PasswordRequired(CryptoError):
    """The secret key file is password-protected and no password was given."""


def _checksum(key_id: bytes, seed: bytes, public: bytes) -> bytes:
    return hashlib.blake2b(KEY_ALG + key_id + seed + public, digest_size=32).digest()


def generate_keypair() -> tuple[SecretKey, PublicKey]:
    """A fresh Ed25519 key pair with a random 8-byte key id."""
    secret = SecretKey(secrets.token_bytes(8), Ed25519PrivateKey.generate())
    return secret, secret.public_key
