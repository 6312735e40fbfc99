"""The daily ``gcmx_retention`` DAG of the party named by ``GCMX_PARTY``: wiring only.

Its one task calls :func:`exchange.orchestration.retention_tasks.apply_retention_task` through
``exchange.orchestration.airflow_glue.run``; nothing heavy is imported while Airflow parses it.
Like the exchange DAGs it exists once a contract of the party is in force here, and starts then
(no catch-up: unpausing starts no run).
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import DAG, CronTriggerTimetable, task

from exchange.orchestration import retention_tasks
from exchange.orchestration.airflow_glue import DEFAULT_ARGS, contract_terms, ready_terms, run
from exchange.settings import load_settings

PARTY = os.environ.get("GCMX_PARTY", "").strip().upper()
CONTRACTS = Path(os.environ.get("GCMX_CONTRACTS") or Path(__file__).resolve().parent.parent / "contracts")
SETTINGS = load_settings()
MINE = [t for t in contract_terms(CONTRACTS) if PARTY in (t.sender, *t.recipients)] if PARTY else []
READY = ready_terms(MINE, SETTINGS.home, SETTINGS.keyring_dir)[0]
DOC = f"""
### Retention for {PARTY}

Daily at 05:00 UTC: deletes every exchange whose retention, as its contract states it
(`slaProperties` retention, from the exchange's publication), has ended.

* As **recipient**: the landed copy and every quarantine copy of the exchange.
* As **sender**: the exchange's objects in {PARTY}'s outbound bucket (data, manifest, signature).

Each deletion is signed into a **deletion statement** kept under `$GCMX_HOME/retention/deleted/`,
recorded in the audit log and put in {PARTY}'s outbound bucket (`deletions/`). The partners'
statements about exchanges {PARTY} sent are collected and verified like receipts. Nothing whose
retention has not ended is touched; every step is safe to retry.

The run **fails** when a partner's statement does not verify, is overdue (a week after the
retention ended) or an exchange's retention cannot be computed; it **retries** when the store is
down. The auditor's report shows what was deleted and what is overdue or unconfirmed; the same
run by hand is `gcmx retention apply` (`--dry-run` to see what it would delete).
"""

if READY:
    with DAG(
        dag_id="gcmx_retention",
        description=f"Delete what {PARTY} may no longer keep, with signed deletion statements",
        schedule=CronTriggerTimetable("0 5 * * *", timezone="UTC"),
        start_date=max(r.since for r in READY), catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS,
        doc_md=DOC, tags=["gcmx", "retention"],
    ) as gcmx_retention:

        @task
        def apply_retention() -> dict:
            return run(retention_tasks.apply_retention_task)

        apply_retention()
