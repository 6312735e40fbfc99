"""``make demo``: the whole bilateral exchange KHM ⇄ THA, through the Airflow DAGs.

Starts SeaweedFS on loopback, sets up both offices under ``var/demo`` (keys, keyrings,
linkage key, contracts signed by both, an Airflow home with SQLite each), drops synthetic
data in each outbox, runs every outbound DAG, then each side's inbound DAG, then the
receipts-and-audit DAGs, prints what happened and a ready-to-paste partner session (THA
opening one of KHM's exchanges with stock tools), then stops SeaweedFS. Every run starts
fresh (it replaces the previous demo's ``var/demo``). ``--keep`` (``make demo KEEP=1``)
leaves SeaweedFS up for that session; ``--stop`` (``make demo-stop``) stops it. With
``--classic`` (``CLASSIC=1``) the parties get classic X25519 age keys, which every
``age`` version reads (the default post-quantum keys need age >= 1.3).

``make airflow`` (``--airflow``) sets up the same in a new folder under ``var/airflow``
(never touching ``var/demo`` or an earlier Airflow session) and starts ``airflow
standalone`` for KHM, so an officer can click through the DAGs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from exchange.contract.model import contracts_between
from exchange.devkit.airflow_local import LocalAirflow, s3_connection
from exchange.devkit.bootstrap import provision
from exchange.devkit.kept_server import keep_running, stop_kept
from exchange.devkit.partner_session import session_text, write_partner_folder
from exchange.devkit.seaweed import SeaweedServer, new_server
from exchange.devkit.synthetic import write_dataset
from exchange.orchestration.tasks import outbox_path, previous_period, suppressed_count
from exchange.protocol.manifest import Manifest
from exchange.protocol.receipts import Receipt
from exchange.settings import PROJECT_ROOT, load_settings

PARTIES = ("KHM", "THA")
DEFAULT_DIR = PROJECT_ROOT / "var" / "demo"
AIRFLOW_DIR = PROJECT_ROOT / "var" / "airflow"
SENDER, PARTNER = PARTIES
PARTNER_DATASET = "workers_deployed"  # the exchange the README's partner lines open


def setup(base: Path, period: str, classic: bool = False) -> tuple[SeaweedServer, dict[str, LocalAirflow]]:
    """Fresh SeaweedFS, both parties provisioned, outboxes filled, Airflow DBs migrated.

    ``base`` is created; it must not exist yet (callers choose: the demo replaces its own
    previous folder with ``replace_demo``, ``make airflow`` takes a new one)."""
    base.mkdir(parents=True)
    server = new_server(base / "s3", PARTIES, [PARTIES]).start()
    homes = provision(base / "parties", PARTIES, [PARTIES], classic=classic)
    airflow = {}
    for party in PARTIES:
        creds = server.credentials[party]
        connection = s3_connection(server.endpoint, creds.access_key_id, creds.secret_access_key)
        airflow[party] = LocalAirflow(party, homes[party], base / "airflow" / party, connection)
    for sender, recipient in (PARTIES, PARTIES[::-1]):
        settings = load_settings(party=sender, home=homes[sender])
        for seed, contract in enumerate(contracts_between(sender, recipient), start=1):
            write_dataset(contract, outbox_path(settings, contract.id, period), period, seed=seed, rows=2000)
    airflow["KHM"].migrate()
    airflow["THA"].migrate(template=airflow["KHM"].database)
    return server, airflow


def replace_demo(base: Path) -> None:
    """Make room for a new demo in ``base``: stop a server an earlier ``--keep`` left, remove the folder."""
    stopped = stop_kept(base / "s3")
    if stopped:
        print(f"  stopped the SeaweedFS an earlier `make demo KEEP=1` left on {stopped}")
    shutil.rmtree(base, ignore_errors=True)


def new_session_folder(root: Path, now: datetime | None = None) -> Path:
    """A folder under ``root`` that does not exist yet, named for the time (UTC); never an existing one."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = root / stamp, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate


def outbound_runs(party: str, partner: str, period: str) -> list[tuple[str, dict]]:
    """The outbound DAG runs of ``party`` towards ``partner`` for ``period``."""
    return [(f"gcmx_outbound_{c.id.replace('.', '_').replace('-', '_')}", {"period": period})
            for c in contracts_between(party, partner)]


def run_everywhere(airflow: dict[str, LocalAirflow], runs: dict[str, list[tuple[str, dict]]]) -> list[dict]:
    """Each party runs its list of DAGs; the two parties run at the same time."""
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = [pool.submit(airflow[party].run_dags, todo) for party, todo in runs.items() if todo]
        return [result for future in futures for result in future.result()]


def exchange_rows(airflow: dict[str, LocalAirflow]) -> list[dict]:
    """One row per exchange sent: from the sender's local manifest and receipt."""
    rows = []
    for party, local in airflow.items():
        for manifest_path in sorted((local.gcmx_home / "outbound").glob("*/manifest.json")):
            manifest = Manifest.from_json(manifest_path.read_bytes(), str(manifest_path))
            receipt_path = manifest_path.parent / "receipt.json"
            receipt = Receipt.from_json(receipt_path.read_bytes(), str(receipt_path)).status \
                if receipt_path.exists() else "missing"
            rows.append({
                "dataset": manifest.dataset,
                "direction": f"{party} → {'/'.join(manifest.recipient_parties)}",
                "rows": manifest.rows, "suppressed": suppressed_count(manifest.disclosure.to_dict()),
                "validation": "passed" if manifest.validation.success else "FAILED",
                "receipt": receipt,
            })
    return rows


def print_table(rows: list[dict]) -> None:
    """The officer's summary: one line per exchange."""
    headers = {"dataset": "dataset", "direction": "direction", "rows": "rows",
               "suppressed": "suppressed (cells/records)", "validation": "validation", "receipt": "receipt"}
    widths = {k: max(len(h), *(len(str(r[k])) for r in rows)) for k, h in headers.items()}
    print("  ".join(h.ljust(widths[k]) for k, h in headers.items()))
    print("  ".join("-" * widths[k] for k in headers))
    for row in rows:
        print("  ".join(str(row[k]).rjust(widths[k]) if k in ("rows", "suppressed") else
                        str(row[k]).ljust(widths[k]) for k in headers))


def print_failures(results: list[dict]) -> bool:
    """Name every DAG run that did not succeed; True when all did."""
    failed = [r for r in results if r["state"] != "success"]
    for result in failed:
        bad = {t: s for t, s in result.get("tasks", {}).items() if s != "success"}
        print(f"  ! {result['dag_id']}: {result['state']} {bad}")
    return not failed


def partner_session(base: Path, server: SeaweedServer, airflow: dict[str, LocalAirflow], classic: bool) -> str:
    """Write THA's partner folder and return the session opening KHM's workers_deployed exchange."""
    manifests = [Manifest.from_json(p.read_bytes(), str(p))
                 for p in sorted((airflow[SENDER].gcmx_home / "outbound").glob("*/manifest.json"))]
    chosen = [m for m in manifests if m.dataset == PARTNER_DATASET and PARTNER in m.recipient_parties]
    if not chosen:
        return f"(no {PARTNER_DATASET} exchange {SENDER} → {PARTNER} was sent: no partner session)\n"
    creds = server.credentials[PARTNER]
    folder = write_partner_folder(base / "partner" / PARTNER, airflow[PARTNER].gcmx_home, PARTNER, SENDER,
                                  creds.access_key_id, creds.secret_access_key)
    return session_text(folder, server.endpoint, chosen[0].period, chosen[0].exchange_id, classic)


def finish(server: SeaweedServer, keep: bool) -> None:
    """Stop SeaweedFS, or with ``keep`` leave it running and say how to stop it."""
    if not keep:
        server.stop()
        return
    keep_running(server)
    print(f"SeaweedFS stays up on {server.endpoint} (process {server.process.pid}); "
          "stop it with `make demo-stop` (the next `make demo` stops it too)")


def demo(base: Path, period: str, keep: bool = False, classic: bool = False) -> int:
    """Run the whole exchange through the DAGs; 0 when every run succeeded and was received."""
    started = time.monotonic()
    print(f"GCM data exchange demo: KHM ⇄ THA, period {period}, in {base}")
    replace_demo(base)
    server, airflow = setup(base, period, classic)
    try:
        print(f"  SeaweedFS on {server.endpoint}; keys, keyrings, signed contracts and data ready")
        results = run_everywhere(airflow, {"KHM": outbound_runs("KHM", "THA", period),
                                           "THA": outbound_runs("THA", "KHM", period)})
        print(f"  outbound DAGs done ({len(results)} runs)")
        results += run_everywhere(airflow, {"KHM": [("gcmx_inbound_tha", {})],
                                            "THA": [("gcmx_inbound_khm", {})]})
        print("  inbound DAGs done")
        results += run_everywhere(airflow, {p: [("gcmx_receipts_audit", {})] for p in PARTIES})
        print("  receipts and audit DAGs done\n")
        rows = exchange_rows(airflow)
        print_table(rows)
        ok = print_failures(results) and all(r["receipt"] == "accepted" for r in rows)
        print()
        for party, local in airflow.items():
            home = local.gcmx_home
            print(f"{party}: landed data {home / 'landing'}")
            print(f"     audit log   {home / 'audit' / f'{party}.audit.jsonl'}")
            print(f"     report      {home / 'reports' / f'{party}-report.html'}")
        print(f"\n{PARTNER}'s partner session with stock tools (README: Opening an exchange with stock tools):\n")
        print(partner_session(base, server, airflow, classic))
        if not keep:
            print("SeaweedFS stops now: to paste such a session, run `make demo KEEP=1` (it keeps SeaweedFS up)")
        print(f"{'done' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s; "
              "`make airflow` opens KHM's Airflow UI on a fresh set-up of its own")
        return 0 if ok else 1
    finally:
        finish(server, keep)


def airflow_ui(root: Path, period: str, port: int = 8080) -> int:
    """Set up the demo in a new folder under ``root`` and run ``airflow standalone`` for KHM until interrupted."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops SeaweedFS
    base = new_session_folder(root)
    print(f"KHM's Airflow session in {base} (earlier sessions and var/demo are kept)")
    server, airflow = setup(base, period)
    khm = airflow["KHM"]
    password = secrets.token_urlsafe(12)
    passwords = khm.airflow_home / "passwords.json"
    passwords.write_text(json.dumps({"officer": password}))
    passwords.chmod(0o600)
    env = khm.env | {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "officer:admin",
                     "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                     "AIRFLOW__API__PORT": str(port), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                     "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                     "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
                     "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    print(f"KHM's Airflow: http://localhost:{port}  login: officer / {password}")
    print(f"  outbox with {period} data: {khm.gcmx_home / 'outbox'}; SeaweedFS on {server.endpoint}")
    print("  every DAG is UNPAUSED and ready to click, with no catch-up: an outbound DAG sends only when\n"
          "  you trigger it or at its contract's next schedule point; watch/inbound only poll THA's bucket")
    print("  to send: open gcmx_outbound_children_on_the_move_khm_tha, press Trigger (▶), leave `period`\n"
          f"  empty or give {period}; Ctrl-C stops Airflow and SeaweedFS")
    try:
        standalone = [sys.executable, "-m", "airflow", "standalone"]
        return subprocess.run(standalone, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m exchange.devkit.demo [--keep] [--classic] [--stop] [--airflow [--port N]] [--dir DIR]
    [--period YYYY-MM]``."""
    parser = argparse.ArgumentParser(prog="python -m exchange.devkit.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--airflow", action="store_true", help="start KHM's Airflow UI instead (in a new folder)")
    parser.add_argument("--dir", type=Path, help=f"the demo's folder (default {DEFAULT_DIR}; "
                                                 f"with --airflow the parent of the new folder, default {AIRFLOW_DIR})")
    parser.add_argument("--period", default=previous_period("monthly", date.today()))
    parser.add_argument("--port", type=int, default=8080, help="Airflow UI port (with --airflow)")
    parser.add_argument("--keep", action="store_true", help="leave SeaweedFS running for the partner session")
    parser.add_argument("--classic", action="store_true", help="classic X25519 age keys (any age version)")
    parser.add_argument("--stop", action="store_true", help="stop the SeaweedFS a --keep run left")
    args = parser.parse_args(argv)
    if args.airflow:
        return airflow_ui(args.dir or AIRFLOW_DIR, args.period, args.port)
    base = args.dir or Path(os.environ.get("GCMX_DEMO_DIR", DEFAULT_DIR))
    if args.stop:
        stopped = stop_kept(base / "s3")
        print(f"stopped SeaweedFS on {stopped}" if stopped else f"no SeaweedFS kept running for {base}")
        return 0
    return demo(base, args.period, args.keep, args.classic)


if __name__ == "__main__":
    sys.exit(main())
