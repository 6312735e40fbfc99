"""One typed settings object, read from ``GCMX_*`` environment variables.

Secrets (the S3 secret key) are ``SecretStr``: they never show in reprs, logs or
errors. Paths default under ``GCMX_HOME`` so one variable sets up a party.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.errors import ConfigError
from exchange.protocol.naming import KEYRING, KEYS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "GCMX_"


class Settings(BaseSettings):
    """Configuration of one party's exchange node."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    party: str | None = None
    home: Path = Path.home() / ".gcmx"
    keyring: Path | None = None
    identity: Path | None = None
    contracts: Path = PROJECT_ROOT / "contracts"
    expectations: Path = PROJECT_ROOT / "expectations"
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    @field_validator("party")
    @classmethod
    def _party_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError("must be an ISO 3166-1 alpha-3 code such as KHM or THA")
        return code

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme, _, rest = value.strip().partition("://")
        if scheme not in ("http", "https") or not rest.split("/")[0]:
            raise ValueError("must be an http:// or https:// URL such as http://localhost:8333")
        return value.strip()

    @property
    def keyring_dir(self) -> Path:
        """Directory of partners' public keys (``{PARTY}.age.pub``, ``{PARTY}.minisign.pub``)."""
        return self.keyring or self.home / KEYRING

    @property
    def identity_dir(self) -> Path:
        """Directory of this party's secret keys (never inside the repository)."""
        return self.identity or self.home / KEYS

    def require_party(self) -> str:
        """The party code, or a ConfigError naming the variable to set."""
        if not self.party:
            raise ConfigError(
                f"no party configured: tried {ENV_PREFIX}PARTY",
                hint="set GCMX_PARTY to this office's ISO alpha-3 code, e.g. GCMX_PARTY=KHM",
            )
        return self.party


def load_settings(**overrides) -> Settings:
    """Read settings from the environment; overrides win. Errors name the keys tried."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(  # pydantic's "Value error, " prefix says nothing to an officer
            f"{ENV_PREFIX}{str(err['loc'][0]).upper()}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings ({problems})", hint="fix the variables named") from None
