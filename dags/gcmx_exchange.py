"""GCM data exchange DAGs for the party named by ``GCMX_PARTY``: wiring only.

Generated from the contracts folder (``GCMX_CONTRACTS``), for the contracts *ready* here only:
every party's agreement file of the contract's version (``$GCMX_HOME/agreements``) and public
keys (``GCMX_KEYRING``) are present. That file check keeps parsing fast; every task re-checks
the signatures over the contract's current hash before it sends or receives. A contract not
ready gets no DAG; the receipts-and-audit DAG's doc lists it with the reason.

Each DAG starts when its contracts came into force here (the newest agreement file), with
``catchup=False``: unpausing it never starts a run for a schedule point before that, and an
outbound DAG sends only when triggered or on time at a schedule point (a scheduled run that
starts over an hour late, Airflow's catch-up of the latest point, is skipped: nothing sent).

* ``gcmx_outbound_<contract>``: one per contract this party sends, on the contract's cron;
  validate → protect → publish → record.
* ``gcmx_watch_<partner>``: waits for a new signed exchange in the partner's bucket and
  announces it as an Airflow asset.
* ``gcmx_inbound_<partner>``: runs on that asset or hourly; discovers new exchanges and
  receives each in its own mapped task.
* ``gcmx_receipts_audit``: collects receipts, verifies the audit chain, publishes a
  signed checkpoint and rebuilds the auditor report.

Every task calls one function of ``exchange.orchestration.tasks`` through ``exchange.orchestration.airflow_glue.run``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, task

from exchange.orchestration import tasks
from exchange.orchestration.airflow_glue import (
    DEFAULT_ARGS,
    PUBLISH_RETRIES,
    PUBLISH_TIMEOUT,
    Readiness,
    contract_terms,
    partners,
    period_param,
    ready_terms,
    run,
    skip_late_scheduled_run,
)
from exchange.protocol.naming import bucket_name
from exchange.settings import load_settings

PROJECT = Path(__file__).resolve().parent.parent
PARTY = os.environ.get("GCMX_PARTY", "").strip().upper()
CONTRACTS = Path(os.environ.get("GCMX_CONTRACTS") or PROJECT / "contracts")
SETTINGS = load_settings()
TIMEZONE = "UTC"


def bucket_asset(sender: str, recipient: str) -> Asset:
    """The asset 'a new exchange sits in bucket {sender}-to-{recipient}'."""
    bucket = bucket_name(sender, recipient)
    return Asset(uri=f"s3://{bucket}/", name=f"gcmx_{bucket.replace('-', '_')}", group="gcmx")


def since(ready: list[Readiness]) -> datetime:
    """When the newest of these contracts came into force here: the DAG's start date."""
    return max(r.since for r in ready)


def outbound_dag(ready: Readiness) -> DAG:
    """validate → protect → publish → record for one contract this party sends."""
    terms = ready.terms
    recipient = terms.recipients[0]
    example = "2025-03" if terms.period == "monthly" else "2025-Q1"
    period_words, period_schema = period_param(terms.period, terms.id)
    doc = f"""
### Send **{terms.dataset}** to {recipient} ({terms.name})

Contract `{terms.id}` ({terms.classification} data), schedule `{terms.schedule}` (UTC).
Each run sends the last complete {terms.period} period before the run date.

1. **validate**: checks `$GCMX_HOME/outbox/{terms.id}/<period>.parquet` against the contract.
   A breach fails the run at once, keeps the file in `quarantine/`, and **nothing is sent**.
2. **protect**: applies disclosure control once and keeps the result in `outbound/_staged/`
   (the run shows how many cells are suppressed; never values).
3. **publish**: encrypts the protected data to {recipient}'s key, signs the manifest, uploads to
   `s3://{terms.sender.lower()}-to-{recipient.lower()}/`. Re-running finishes the same exchange.
4. **record**: shows what was sent (exchange, rows, revision, suppressed cells).

In force here since {ready.since:%Y-%m-%d %H:%M} UTC: the first scheduled run is the contract's
first schedule point after that (no catch-up). **Trigger** (▶) to send now: `period` empty sends
the last complete period, or give one like `{example}`; `source` sends another Parquet file.
S3 failures retry with backoff; a contract breach or bad input fails at once with the reason
as the last lines of the task's log.
"""
    with DAG(
        dag_id=f"gcmx_outbound_{terms.dag_suffix}",
        description=f"Send {terms.dataset} {terms.sender} -> {recipient} under {terms.id}",
        schedule=CronTriggerTimetable(terms.schedule, timezone=TIMEZONE),
        start_date=ready.since, catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS, doc_md=doc,
        tags=["gcmx", "outbound", terms.dataset, f"to-{recipient}"],
        params={"period": Param(None, description=period_words, schema=period_schema),
                "source": Param(None, type=["null", "string"],
                                description="Parquet file to send instead of the outbox")},
    ) as dag:

        @task
        def validate(params: dict | None = None, logical_date=None, dag_run=None) -> dict:
            skip_late_scheduled_run(dag_run)
            when = logical_date or dag_run.run_after
            return run(tasks.validate_outbound, contract_id=terms.id, period_kind=terms.period,
                       period=params.get("period"), source=params.get("source"), logical_date=when)

        @task
        def protect(checked: dict) -> dict:
            return run(tasks.protect_outbound, contract_id=terms.id, period=checked["period"],
                       source=checked["source"])

        @task(execution_timeout=PUBLISH_TIMEOUT, retries=PUBLISH_RETRIES)
        def publish(checked: dict, protected: dict) -> dict:
            return run(tasks.publish_outbound, contract_id=terms.id, period=checked["period"],
                       source=checked["source"], checked=checked, protected=protected)

        @task(outlets=[bucket_asset(terms.sender, recipient)])
        def record(published: dict) -> dict:
            return run(tasks.record_outbound, s3=False, published=published)

        checked = validate()
        record(publish(checked, protect(checked)))
    return dag


def watch_dag(partner: str, start: datetime) -> DAG:
    """Wait for a new signed exchange from ``partner`` and announce it as an asset."""
    doc = f"""
### Watch for data from {partner}

Every 30 minutes, looks in `s3://{partner.lower()}-to-{PARTY.lower()}/` for a signed exchange this
office has not received yet (a sensor in *reschedule* mode: it holds no worker slot while it
waits). When one appears it updates the asset that starts **gcmx_inbound_{partner.lower()}** at once.
A run that finds nothing within 25 minutes is *skipped*, not failed.
"""
    with DAG(
        dag_id=f"gcmx_watch_{partner.lower()}",
        description=f"Announce new exchanges from {partner}",
        schedule=CronTriggerTimetable("*/30 * * * *", timezone=TIMEZONE),
        start_date=start, catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS, doc_md=doc,
        tags=["gcmx", "inbound", "watch", f"from-{partner}"],
    ) as dag:

        @task.sensor(poke_interval=120, timeout=25 * 60, mode="reschedule", soft_fail=True,
                     outlets=[bucket_asset(partner, PARTY)])
        def new_exchange() -> bool:
            return bool(run(tasks.discover_inbound, partner=partner))

        new_exchange()
    return dag


def inbound_dag(partner: str, start: datetime) -> DAG:
    """discover → receive (one mapped task per exchange) for data from ``partner``."""
    doc = f"""
### Receive data from {partner}

Runs when **gcmx_watch_{partner.lower()}** (or {PARTY}'s own Airflow, if shared) announces new
data in `s3://{partner.lower()}-to-{PARTY.lower()}/`, and every hour as a safety net.

1. **discover** lists signed exchanges not yet received.
2. **receive** (one task per exchange) verifies the signature and the contract in force,
   decrypts, re-validates, lands the data under `$GCMX_HOME/landing/` and sends {partner} a
   signed receipt. A bad exchange fails its task visibly, is kept in `quarantine/` with its
   reason and answered with a *rejected* receipt; the other exchanges still land.
"""
    with DAG(
        dag_id=f"gcmx_inbound_{partner.lower()}",
        description=f"Receive exchanges from {partner}",
        schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 * * * *", timezone=TIMEZONE),
                                     assets=[bucket_asset(partner, PARTY)]),
        start_date=start, catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS, doc_md=doc,
        tags=["gcmx", "inbound", f"from-{partner}"],
    ) as dag:

        @task
        def discover() -> list[str]:
            return run(tasks.discover_inbound, partner=partner)

        @task(map_index_template="{{ task.op_kwargs['prefix'] }}", max_active_tis_per_dagrun=1)
        def receive(prefix: str) -> dict:  # one at a time, in the order discover gives
            return run(tasks.receive_inbound, partner=partner, prefix=prefix)

        receive.expand(prefix=discover())
    return dag


def receipts_audit_dag() -> DAG:
    """collect receipts → verify audit chain → publish checkpoint → build report."""
    doc = f"""
### Receipts and audit for {PARTY}

Daily (and after every outbound exchange):

1. **collect_receipts**: fetches partners' signed receipts; an exchange counts as delivered
   only with a valid, accepted receipt.
2. **verify_audit_chain**: checks {PARTY}'s hash-chained audit log; any edited, dropped or
   reordered entry fails the run.
3. **publish_checkpoint**: signs the log's head and puts it in each bucket {PARTY} writes,
   so partners and auditors can hold {PARTY} to it.
4. **build_report**: rebuilds the auditor's offline HTML report.
{not_ready_doc()}"""
    sent_to = sorted({r for t in TERMS if t.sender == PARTY for r in t.recipients})
    schedule = CronTriggerTimetable("0 7 * * *", timezone=TIMEZONE)
    if sent_to:
        schedule = AssetOrTimeSchedule(timetable=schedule,
                                       assets=AssetAny(*(bucket_asset(PARTY, r) for r in sent_to)))
    with DAG(
        dag_id="gcmx_receipts_audit",
        description=f"Receipts, audit chain and report of {PARTY}",
        schedule=schedule, start_date=since(READY), catchup=False, max_active_runs=1,
        default_args=DEFAULT_ARGS, doc_md=doc, tags=["gcmx", "audit", "receipts"],
    ) as dag:

        @task
        def collect_receipts() -> dict:
            return run(tasks.collect_all_receipts)

        @task
        def verify_audit_chain() -> dict:
            return run(tasks.verify_audit)

        @task
        def publish_checkpoint() -> dict:
            return run(tasks.publish_audit_checkpoint)

        @task
        def build_report() -> dict:
            return run(tasks.build_report)

        collect_receipts() >> verify_audit_chain() >> publish_checkpoint() >> build_report()
    return dag


def not_ready_doc() -> str:
    """The contracts of this party that have no DAG yet, each with what is missing."""
    if not NOT_READY:
        return ""
    lines = "\n".join(f"* `{r.terms.id}`: {r.reason}" for r in NOT_READY)
    return f"""
**Contracts not in force here (no DAG until both parties sign and the keys are in the keyring;
`gcmx contract status` says more):**

{lines}
"""


MINE = [t for t in contract_terms(CONTRACTS) if PARTY in (t.sender, *t.recipients)] if PARTY else []
READY, NOT_READY = ready_terms(MINE, SETTINGS.home, SETTINGS.keyring_dir)
TERMS = [r.terms for r in READY]
if READY:
    for _ready in READY:
        if _ready.terms.sender == PARTY:
            globals()[f"gcmx_outbound_{_ready.terms.dag_suffix}"] = outbound_dag(_ready)
    for _partner in partners(PARTY, TERMS):
        _start = since([r for r in READY if r.terms.sender == _partner])
        globals()[f"gcmx_watch_{_partner.lower()}"] = watch_dag(_partner, _start)
        globals()[f"gcmx_inbound_{_partner.lower()}"] = inbound_dag(_partner, _start)
    gcmx_receipts_audit = receipts_audit_dag()
