"""One error root for the whole exchange, with terminal and transient kinds.

* ``TerminalError``: retrying cannot help (bad signature, contract breach, access
  denied). Airflow tasks fail at once.
* ``TransientError``: the world may heal (S3 unavailable, timeout). Tasks retry.

Every message names what failed (file, dataset, field, bucket/key) and says what
to do. Messages never contain secrets or record values.

Errors carry what they are about as attributes, not only in their words: each kind lists
its ``FIELDS`` (``ContractError(..., contract=..., field=...)``, ``StoreError(..., bucket=...,
key=...)``, ...), passed as keyword arguments and ``None`` when not given, so a caller can
act on them (``exc.bucket``) without parsing the message.

Store failures share one root, ``StoreError`` (bucket, key, action): ``AccessDenied``,
``ObjectNotFound`` (a ``NotFound``, like a missing local file) and ``StoreRefused`` are
terminal, ``StoreUnavailable`` is transient.
"""

from __future__ import annotations


class GcmxError(Exception):
    """Root of every error the exchange raises on purpose."""

    transient = False
    FIELDS: tuple[str, ...] = ()

    def __init__(self, message: str, *, hint: str | None = None, **fields):
        unknown = sorted(set(fields) - set(self.fields_of()))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(unknown)}")
        self.message = message
        self.hint = hint
        for name in self.fields_of():
            setattr(self, name, fields.get(name))
        super().__init__(f"{message} — {hint}" if hint else message)

    @classmethod
    def fields_of(cls) -> tuple[str, ...]:
        """The fields this kind of error carries (its own and its ancestors', in order)."""
        names: dict[str, None] = {}
        for kind in reversed(cls.__mro__):
            names.update(dict.fromkeys(vars(kind).get("FIELDS", ())))
        return tuple(names)

    @property
    def fields(self) -> dict:
        """The fields that were given (not None), by name."""
        return {name: getattr(self, name) for name in self.fields_of() if getattr(self, name) is not None}


class TerminalError(GcmxError):
    """A failure that a retry cannot fix."""


class TransientError(GcmxError):
    """A failure that may go away; safe to retry."""

    transient = True


class ConfigError(TerminalError):
    """Missing or invalid configuration (settings, keyring, identity files)."""

    FIELDS = ("path",)


class StoreError(GcmxError):
    """The object store failed an action on ``bucket``/``key`` (the root of the kinds below)."""

    FIELDS = ("bucket", "key", "action")

    @property
    def where(self) -> str:
        """``s3://bucket/key`` (or ``s3://bucket``)."""
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"


class AccessDenied(StoreError, TerminalError):
    """The store refused the credentials or the action."""


class NotFound(TerminalError):
    """Something that should exist does not: a local file (``path``) or, as
    :class:`ObjectNotFound`, an object or bucket of the store."""

    FIELDS = ("path",)


class ObjectNotFound(StoreError, NotFound):
    """An object or bucket of the store does not exist."""


class StoreUnavailable(StoreError, TransientError):
    """The object store could not be reached or answered with a server error."""


class StoreRefused(StoreError, TerminalError):
    """The store answered with an error that is neither missing, denied nor transient."""


class CryptoError(TerminalError):
    """Decryption, encryption or key handling failed."""


class SignatureError(TerminalError):
    """A signature is missing, malformed, or does not verify with the expected key."""

    FIELDS = ("source", "key_id")


class ContractError(TerminalError):
    """A contract, suite or dataset does not fit what was agreed."""

    FIELDS = ("contract", "field", "dataset", "period")


class DisclosureError(TerminalError):
    """Disclosure control could not protect a dataset under its contract's rules."""

    FIELDS = ("contract",)


class ProtocolError(TerminalError):
    """An exchange breaks the protocol (replay, rollback, wrong sender, bad hash)."""

    FIELDS = ("bucket", "key", "field", "exchange_id")


class ObjectTooLarge(ProtocolError):
    """An object read from a bucket is larger than any genuine one of its kind."""

    FIELDS = ("limit",)


class QuarantineError(TerminalError):
    """A dataset or exchange was refused and kept with its reason in the quarantine ``folder``."""

    FIELDS = ("folder",)
