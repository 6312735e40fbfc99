"""A contract is agreed cryptographically: both parties sign its hash.

``sign_contract`` writes ``{agreements_dir}/{id}@{version}.{PARTY}.minisig``: a minisign
signature over the ASCII contract hash (sha256 of contract + suite), whose trusted
comment names contract id, version, hash and party. A contract is *in force* only
when the sender's and every recipient's signature verify over the *current* hash,
so editing the contract or its suite voids the agreement until both re-sign.

Stock tools can check it: ``printf %s HASH > h && minisign -Vm h -x FILE.minisig -p KEY.pub``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from exchange.atomic import write_bytes_atomic
from exchange.contract.model import Contract
from exchange.crypto.minisign import PublicKey, SecretKey
from exchange.errors import ContractError, GcmxError
from exchange.protocol.naming import agreement_file


def signature_path(contract: Contract, party: str, agreements_dir: Path) -> Path:
    """Where ``party``'s signature of this contract version lives."""
    return Path(agreements_dir) / agreement_file(contract.id, contract.version, party)


def trusted_comment(contract: Contract, party: str) -> str:
    """The trusted comment that binds a signature to contract, version, hash and party."""
    return (
        f"gcmx contract {contract.id} version {contract.version} hash {contract.hash} party {party.upper()}"
    )


def parties(contract: Contract) -> tuple[str, ...]:
    """Everyone who must sign: the sender and each recipient."""
    return (contract.sender, *contract.recipients)


def sign_contract(
    contract: Contract, party: str, secret_key: SecretKey, agreements_dir: Path
) -> Path:
    """Sign the contract's current hash as ``party``; write and return the signature file."""
    party = party.upper()
    if party not in parties(contract):
        raise ContractError(
            f"contract {contract.id}: {party} is not a party to it",
            hint=f"only {', '.join(parties(contract))} sign this contract",
        )
    directory = Path(agreements_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = signature_path(contract, party, directory)
    write_bytes_atomic(path, secret_key.sign(contract.hash.encode("ascii"), trusted_comment(contract, party)))
    return path


def _check_party(
    contract: Contract, party: str, directory: Path, public_keys: Mapping[str, PublicKey]
) -> str | None:
    """None when ``party``'s signature verifies over the current hash, else the reason."""
    path = signature_path(contract, party, directory)
    if not path.is_file():
        return f"{party} has not signed ({path.name} missing)"
    key = public_keys.get(party)
    if key is None:
        return f"no public key for {party} in the keyring"
    try:
        comment = key.verify(contract.hash.encode("ascii"), path.read_bytes(), source=str(path))
    except GcmxError as exc:
        return f"{party}'s signature {path.name} does not verify over the current hash ({exc.message})"
    if comment != trusted_comment(contract, party):
        return f"{party}'s signature {path.name} names another contract, version, hash or party"
    return None


def party_problems(
    contract: Contract, agreements_dir: Path, public_keys: Mapping[str, PublicKey]
) -> dict[str, str]:
    """Each party whose signature is missing, has no key, or does not verify, with the reason."""
    directory = Path(agreements_dir)
    return {p: r for p in parties(contract) if (r := _check_party(contract, p, directory, public_keys))}


def require_in_force(
    contract: Contract, agreements_dir: Path, public_keys: Mapping[str, PublicKey]
) -> None:
    """Raise ContractError unless every party's signature verifies over the current hash."""
    directory = Path(agreements_dir)
    reasons = [r for p in parties(contract) if (r := _check_party(contract, p, directory, public_keys))]
    if reasons:
        raise ContractError(
            f"contract {contract.id} v{contract.version} (hash {contract.hash[:12]}) is not in force: "
            + "; ".join(reasons),
            hint="both parties run `gcmx contract sign` on the same contract and suite; "
            "their public keys go in GCMX_KEYRING",
        )


def in_force(contract: Contract, agreements_dir: Path, public_keys: Mapping[str, PublicKey]) -> bool:
    """True when every party's signature verifies over the current hash."""
    try:
        require_in_force(contract, agreements_dir, public_keys)
    except ContractError:
        return False
    return True
