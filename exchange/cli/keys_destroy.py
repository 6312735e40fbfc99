"""`gcmx keys destroy KEY_ID`: crypto-shred a retired age identity (see exchange/crypto/shred.py)."""

from __future__ import annotations

import click

from exchange.cli.output import emit_json, json_option


@click.command("destroy")
@click.argument("key_id")
@click.option("--party", help="This office's ISO alpha-3 code [default: GCMX_PARTY].")
@json_option
def destroy(key_id: str, party: str | None, as_json: bool) -> None:
    """Erase the retired age identity KEY_ID (overwrite, then unlink) and audit it.

    Afterwards no copy of a ciphertext encrypted to that key (a backup, a replica, a
    leaked bucket) can be decrypted. Refused while KEY_ID is the current key, or while an
    exchange encrypted to it has not passed its retention (run `gcmx retention apply`
    first). Running it again for a destroyed key says so and changes nothing.

    \b
    Exit codes: 0 destroyed (or already), 2 refused or not found (the message says why).
    """
    from exchange.cli.exchange import _node
    from exchange.crypto.shred import destroy_identity

    done = destroy_identity(_node(party), key_id)
    if as_json:
        emit_json({"ok": True, "key_id": done.key_id, "path": done.path, "time": done.time,
                   "already": done.already})
        return
    state = "was already destroyed" if done.already else "destroyed"
    click.echo(f"age key {done.key_id} {state} ({done.path}, {done.time})")
