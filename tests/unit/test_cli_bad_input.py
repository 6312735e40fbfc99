"""Every `gcmx` command tried with bad input: one clear error, no traceback, the documented exit
code (0 ok, 1 a check failed, 2 usage/configuration/terminal, 75 transient), and with --json
exactly one JSON document on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange.cli import CHECK_FAILED, TERMINAL, TRANSIENT, main
from exchange.errors import StoreUnavailable

NOT_PARQUET = "not-parquet.parquet"
CONTRACT = "workers_deployed.khm-tha"

# command -> (arguments, extra environment, expected exit code); {tmp} is a fresh folder
BAD_INPUT: dict[str, tuple[list[str], dict, int]] = {
    "keys generate": (["keys", "generate", "--party", "Cambodia"], {}, TERMINAL),
    "keys show": (["keys", "show", "--party", "KOR"], {}, TERMINAL),
    "keys linkage": (["keys", "linkage"], {}, TERMINAL),
    "keys pseudonym": (["keys", "pseudonym", "--dir", "{tmp}/in/sub"], {}, TERMINAL),
    "keys rotate": (["keys", "rotate"], {}, TERMINAL),
    "keys revoke": (["keys", "revoke", "ABCD", "--reason", "lost"], {}, TERMINAL),
    "keys publish": (["keys", "publish", "--party", "Cambodia"], {}, TERMINAL),
    "keys history": (["keys", "history", "--party", "KOR"], {}, TERMINAL),
    "encrypt": (["encrypt", "{tmp}/in"], {}, TERMINAL),
    "decrypt": (["decrypt", "-i", "{tmp}/missing.age"], {}, TERMINAL),
    "sign": (["sign", "-s", "{tmp}/missing.key", "-m", "{tmp}/in"], {}, TERMINAL),
    "verify-signature": (["verify-signature", "-m", "{tmp}/in"], {}, TERMINAL),
    "contract lint": (["contract", "lint", "{tmp}/missing.odcs.yaml"], {}, TERMINAL),
    "contract check": (["contract", "check", "nope.khm-tha"], {}, TERMINAL),
    "contract diff": (["contract", "diff", "{tmp}/in", "{tmp}/in"], {}, TERMINAL),
    "contract sign": (["contract", "sign", "nope.khm-tha"], {}, TERMINAL),
    "contract status": (["contract", "status", "nope.khm-tha"], {}, TERMINAL),
    "validate": (["validate", f"{{tmp}}/{NOT_PARQUET}", "--contract", CONTRACT], {}, TERMINAL),
    "protect": (["protect", "{tmp}/missing.parquet", "--contract", CONTRACT, "--out", "{tmp}/o"], {}, TERMINAL),
    "publish": (["publish", "{tmp}/in", "--contract", CONTRACT, "--period", "2026-10"],
                {"GCMX_S3_ENDPOINT": "not-a-url"}, TERMINAL),
    "pull": (["pull", "--partner", "../x"], {}, TERMINAL),
    "pull endpoint": (["pull", "--partner", "THA"], {"GCMX_S3_ENDPOINT": "localhost:8333"}, TERMINAL),
    "receipts": (["receipts"], {}, TERMINAL),
    "verify": (["verify", "{tmp}", "--partner", "THA"], {}, TERMINAL),
    "audit verify": (["audit", "verify", "--log", "{tmp}/none.jsonl"], {}, TERMINAL),
    "audit checkpoint": (["audit", "checkpoint"], {}, TERMINAL),
    "report": (["report"], {"GCMX_PARTY": "K1"}, TERMINAL),
    "unknown option": (["validate", "--nope"], {}, TERMINAL),
    "retention apply": (["retention", "apply"], {"GCMX_PARTY": "K1"}, TERMINAL),  # issue 15
    "keys destroy": (["keys", "destroy", "not-a-key-id"], {}, TERMINAL),  # issue 15
}
JSON_COMMANDS = {"validate", "protect", "publish", "pull", "pull endpoint", "receipts", "verify",
                 "contract status", "audit verify", "retention apply", "keys destroy"}


def _every_command(group=main, prefix="") -> set[str]:
    names = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            names |= _every_command(command, f"{prefix}{name} ")
        else:
            names.add(f"{prefix}{name}")
    return names


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict:
    (tmp_path / "in").write_text("not a contract, not parquet")
    (tmp_path / NOT_PARQUET).write_bytes(b"PAR1 not really")
    return {"GCMX_PARTY": "KHM", "GCMX_HOME": str(tmp_path / "home"), "GCMX_IDENTITY": None,
            "GCMX_KEYRING": None, "GCMX_S3_ENDPOINT": None, "GCMX_CONTRACTS": None, "GCMX_EXPECTATIONS": None}


def _run(args: list[str], env: dict, tmp: Path):
    return CliRunner().invoke(main, [a.replace("{tmp}", str(tmp)) for a in args], env=env)


def test_the_table_covers_every_command():
    assert _every_command() <= {name.split(" endpoint")[0] for name in BAD_INPUT}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_clear_error_with_the_documented_exit_code(case, env, tmp_path):
    args, extra, code = BAD_INPUT[case]
    result = _run(args, {**env, **extra}, tmp_path)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.exc_info[0] is SystemExit, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith(("gcmx: error:", "Error:"))]
    assert len(errors) == 1, result.stderr
    assert "{'" not in result.output and "list index out of range" not in result.output


@pytest.mark.parametrize("case", sorted(JSON_COMMANDS))
def test_a_failing_command_with_json_prints_one_error_document(case, env, tmp_path):
    args, extra, code = BAD_INPUT[case]
    result = _run([*args, "--json"], {**env, **extra}, tmp_path)
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == code and document["error"]["message"]


def test_a_transient_failure_exits_75(env, tmp_path, monkeypatch):
    from exchange.protocol import inbound

    def unreachable(*args, **kwargs):
        raise StoreUnavailable("cannot reach the store", hint="retry later", bucket="tha-to-khm")

    monkeypatch.setattr(inbound, "pull", unreachable)
    result = _run(["pull", "--partner", "THA"], {**env, "GCMX_S3_ENDPOINT": "http://127.0.0.1:9"}, tmp_path)
    assert result.exit_code == TRANSIENT == 75 and "Traceback" not in result.output, result.output


def test_an_unforeseen_failure_is_still_one_line(env, tmp_path, monkeypatch):
    from exchange.protocol import offline

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(offline, "verify_folder", broken)
    result = _run(["verify", "{tmp}", "--partner", "THA"], env, tmp_path)
    assert result.exit_code == TERMINAL and "Traceback" not in result.output
    assert "gcmx: error: unexpected failure (RuntimeError)" in result.stderr


def test_old_partner_spellings_still_work_but_are_hidden(env, tmp_path):
    result = _run(["pull", "--from", "../x"], env, tmp_path)
    assert result.exit_code == TERMINAL and "ISO alpha-3" in result.output
    assert "--from" not in _run(["pull", "--help"], env, tmp_path).output
    assert "--partner" in _run(["receipts", "--help"], env, tmp_path).output


def test_help_lists_the_exit_codes_and_defaults_one_way(env, tmp_path):
    shown = _run(["--help"], env, tmp_path).output
    assert all(f"\n    {code} " in shown for code in (0, CHECK_FAILED, TERMINAL, TRANSIENT))
    for command in sorted(_every_command()):
        text = _run([*command.split(), "--help"], env, tmp_path).output
        assert "(default:" not in text and "$GCMX" not in text, command
