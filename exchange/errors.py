"""One error root for the whole exchange, with terminal and transient kinds.

* ``TerminalError``: retrying cannot help (bad signature, contract breach, access
  denied). Airflow tasks fail at once.
* ``TransientError``: the world may heal (S3 unavailable, timeout). Tasks retry.

Every message names what failed (file, dataset, field, bucket/key) and says what
to do. Messages never contain secrets or record values.
"""

from __future__ import annotations


class GcmxError(Exception):
    """Root of every error the exchange raises on purpose."""

    transient = False

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} — {hint}" if hint else message)


class TerminalError(GcmxError):
    """A failure that a retry cannot fix."""


class TransientError(GcmxError):
    """A failure that may go away; safe to retry."""

    transient = True


class ConfigError(TerminalError):
    """Missing or invalid configuration (settings, keyring, identity files)."""


class AccessDenied(TerminalError):
    """The store refused the credentials or the action."""


class NotFound(TerminalError):
    """An object, bucket or file that should exist does not."""


class StoreUnavailable(TransientError):
    """The object store could not be reached or answered with a server error."""


class CryptoError(TerminalError):
    """Decryption, encryption or key handling failed."""


class SignatureError(TerminalError):
    """A signature is missing, malformed, or does not verify with the expected key."""


class ContractError(TerminalError):
    """A contract, suite or dataset does not fit what was agreed."""


class DisclosureError(TerminalError):
    """Disclosure control could not protect a dataset under its contract's rules."""


class ProtocolError(TerminalError):
    """An exchange breaks the protocol (replay, rollback, wrong sender, bad hash)."""


class ObjectTooLarge(ProtocolError):
    """An object read from a bucket is larger than any genuine one of its kind."""
