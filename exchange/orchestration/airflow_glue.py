"""The thin Airflow layer between the DAG files and ``exchange.orchestration.tasks``.

* S3 comes from the amazon provider's connection ``gcmx_s3`` (``endpoint_url`` in its
  extra for SeaweedFS or any non-AWS store), turned into a boto3 client at run time.
* The party's secret keys come from the connection ``gcmx_identity`` (extra
  ``{"identity_dir": "/path"}``, e.g. from a secrets backend) or else ``GCMX_IDENTITY``.
* ``run`` is the one place errors meet Airflow: a TerminalError raised by a task function
  becomes AirflowFailException (the task fails at once, no retry); a TransientError becomes
  a plain AirflowException, which Airflow retries with exponential backoff.
* Contract terms for building DAGs come from :func:`exchange.contract.terms.contract_terms` (the one
  parser of the terms, with the C YAML loader): DAG parsing touches the contracts folder, the
  agreements folder and the keyring and nothing else (no boto3, no GX, no pyarrow).
* Only contracts *ready* get DAGs (:func:`ready_terms`): every party's agreement file for the
  contract's version and every party's public keys are present. That is a file check, fast at
  parse time; the tasks re-check the signatures over the contract's current hash
  (``require_in_force``) before anything is sent or received. A DAG starts when its contracts
  came into force (the newest agreement file), so with ``catchup=False`` unpausing it never
  starts a run for a schedule point from before that; and a *scheduled* outbound run that starts
  more than ``LATE_RUN`` after its schedule point (Airflow's catch-up of the latest point when a
  DAG is unpaused or deployed late) sends nothing (:func:`skip_late_scheduled_run`).
* Task logs: libraries' chatter (GX, botocore, urllib3, ...) is kept below WARNING, and a failed
  task ends its log with the reason and what to do, in words (:func:`log_failure`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from exchange.contract.terms import PERIODS, ContractTerms, contract_terms  # noqa: F401 - the DAG file's import
from exchange.crypto.keys import key_file_paths
from exchange.protocol.naming import AGREEMENTS, agreement_file

S3_CONN_ID = "gcmx_s3"
IDENTITY_CONN_ID = "gcmx_identity"
OWNER = "gcmx-data-office"
# Loggers whose INFO/DEBUG lines drown the task's own (GX alone wrote 214 of 234 lines).
NOISY_LIBRARIES = ("great_expectations", "botocore", "boto3", "s3transfer", "urllib3", "filelock",
                   "fsspec", "asyncio", "PIL", "matplotlib", "numexpr", "tzlocal")
PERIOD_EXAMPLES = {"monthly": "2025-03", "quarterly": "2025-Q1"}
LATE_RUN = timedelta(hours=1)

log = logging.getLogger("gcmx")


@dataclass(frozen=True)
class Readiness:
    """Whether a contract can run now (``reason`` says what is missing) and since when."""

    terms: ContractTerms
    reason: str | None
    since: datetime | None


def readiness(terms: ContractTerms, home: Path, keyring: Path) -> Readiness:
    """A contract is ready when every party's agreement file of its version and public keys are
    present; ``since`` is the newest agreement file's time (when it came into force here)."""
    parties = (terms.sender, *terms.recipients)
    signatures = [home / AGREEMENTS / agreement_file(terms.id, terms.version, p) for p in parties]
    missing = [f"{p} has not signed ({s.name} missing)" for p, s in zip(parties, signatures, strict=True)
               if not s.is_file()]
    for party in parties:
        files = key_file_paths(party, keyring)
        missing += [f"no {what} of {party} in {keyring}" for what, path in
                    (("age recipient", files.age_recipient), ("minisign public key", files.minisign_public))
                    if not path.is_file()]
    if missing:
        return Readiness(terms, "; ".join(missing), None)
    newest = max(s.stat().st_mtime for s in signatures)
    return Readiness(terms, None, datetime.fromtimestamp(int(newest), tz=UTC))


def ready_terms(terms: list[ContractTerms], home: Path, keyring: Path) -> tuple[list[Readiness], list[Readiness]]:
    """The contracts ready to run (DAGs are built for these) and the others, with their reasons."""
    found = [readiness(t, home, keyring) for t in terms]
    return [r for r in found if r.reason is None], [r for r in found if r.reason is not None]


def period_param(kind: str, contract_id: str) -> tuple[str, dict]:
    """The ``period`` trigger parameter's description and JSON Schema: empty, or a period of the
    contract's kind. The description says what a good one looks like in the CLI's words; the
    schema repeats it as ``$comment``, as Airflow quotes the schema when it refuses a trigger."""
    shape = "YYYY-MM" if kind == "monthly" else "YYYY-Qn"
    words = (f"a {kind} period ({shape}): contract {contract_id} expects periods like {PERIOD_EXAMPLES[kind]}; "
             "empty sends the last complete period")
    pattern = PERIODS[kind].pattern.replace("\\Z", "$")
    return words, {"type": ["null", "string"], "pattern": pattern, "$comment": words}


def skip_late_scheduled_run(dag_run) -> None:
    """Skip a scheduled run (never a triggered or cleared one) that started more than ``LATE_RUN``
    after its schedule point: Airflow's run for the latest past point when a DAG is unpaused or
    deployed late, which nobody asked for. Its downstream tasks are skipped: nothing is sent."""
    from airflow.sdk.exceptions import AirflowSkipException

    kind = str(getattr(dag_run.run_type, "value", dag_run.run_type))
    started, due = dag_run.start_date, dag_run.run_after
    if kind != "scheduled" or (dag_run.clear_number or 0) > 0 or not started or started - due <= LATE_RUN:
        return
    reason = (f"scheduled run for {due:%Y-%m-%d %H:%M} UTC started {started - due} late (the DAG was paused "
              "or deployed after that schedule point): nothing sent; trigger the DAG to send that period")
    log.warning("gcmx %s", reason)
    raise AirflowSkipException(reason)


def quiet_libraries() -> None:
    """Keep libraries' INFO/DEBUG lines out of task logs: only their warnings and errors show."""
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def log_failure(context: dict) -> None:
    """``on_failure_callback``: the last lines of a failed task's log are its reason in words."""
    exc = context.get("exception")
    task = context.get("task_instance")
    log.error("gcmx task %s FAILED: %s", getattr(task, "task_id", "?"),
              " ".join(str(exc).split()) if exc else "see the lines above")


# A publish that runs longer is stopped and retried; it must end well within the lease of its
# claims (exchange.protocol.claims.LEASE, 2 h), after which another machine may take it over.
PUBLISH_TIMEOUT = timedelta(hours=1)
# A publish told another run holds the exchange (ExchangeBusy) retries until that run must have
# ended: with DEFAULT_ARGS' backoff, 8 retries wait 20 s, 40 s, ... 30 min: 72 min in all.
PUBLISH_RETRIES = 8

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": log_failure,
}


def partners(party: str, terms: list[ContractTerms]) -> list[str]:
    """Parties that send to ``party`` under some contract."""
    return sorted({t.sender for t in terms if party in t.recipients})


def s3_client(conn_id: str = S3_CONN_ID):
    """A boto3 S3 client from the Airflow connection; the connection's botocore config wins."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from exchange.storage.s3 import client_config

    hook = S3Hook(aws_conn_id=conn_id)
    return hook.get_client_type(config=client_config().merge(hook.config))


def use_identity_connection(conn_id: str = IDENTITY_CONN_ID) -> None:
    """Point ``GCMX_IDENTITY`` at the folder named by the identity connection, when there is one."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get(conn_id)
    except AirflowNotFoundException:
        return
    folder = (connection.extra_dejson or {}).get("identity_dir")
    if folder:
        os.environ["GCMX_IDENTITY"] = str(folder)


def run(func: Callable[..., dict | list], *, s3: bool = True, **kwargs) -> dict | list:
    """Call one ``exchange.orchestration.tasks`` function (first argument an S3 client unless
    ``s3`` is False); map its typed errors to Airflow's: terminal fails now, transient retries."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from exchange.errors import TerminalError, TransientError
    from exchange.orchestration.tasks import to_json

    quiet_libraries()
    try:
        if s3:
            use_identity_connection()
            result = func(s3_client(), **kwargs)
        else:
            result = func(**kwargs)
    except TerminalError as exc:
        log.error("gcmx %s FAILED (%s): %s", func.__name__, type(exc).__name__, exc.message)
        if exc.hint:
            log.error("gcmx what to do: %s", exc.hint)
        raise AirflowFailException(str(exc)) from None
    except TransientError as exc:
        log.warning("gcmx %s: %s (%s); Airflow retries it", func.__name__, exc, type(exc).__name__)
        raise AirflowException(str(exc)) from None
    except Exception as exc:  # not a gcmx error: a bug, which a retry would only repeat
        log.exception("gcmx %s FAILED: unexpected %s", func.__name__, type(exc).__name__)
        log.error("gcmx what to do: this is a bug in gcmx; report it with this log")
        raise AirflowFailException(f"unexpected {type(exc).__name__} in {func.__name__}: a bug, "
                                   "not retried; report it with the task log") from None
    log.info("gcmx %s: %s", func.__name__, to_json(result) if isinstance(result, dict) else result)
    return result
