"""The thin Airflow layer between the DAG files and ``exchange.orchestration.tasks``.

* S3 comes from the amazon provider's connection ``gcmx_s3`` (``endpoint_url`` in its
  extra for SeaweedFS or any non-AWS store), turned into a boto3 client at run time.
* The party's secret keys come from the connection ``gcmx_identity`` (extra
  ``{"identity_dir": "/path"}``, e.g. from a secrets backend) or else ``GCMX_IDENTITY``.
* ``run`` is the one place errors meet Airflow: a TerminalError raised by a task function
  becomes AirflowFailException (the task fails at once, no retry); a TransientError becomes
  a plain AirflowException, which Airflow retries with exponential backoff.
* Contract terms for building DAGs come from :func:`exchange.contract.terms.contract_terms` (the one
  parser of the terms, with the C YAML loader): DAG parsing touches the contracts folder and
  nothing else (no boto3, no GX, no pyarrow).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta

from exchange.contract.terms import ContractTerms, contract_terms  # noqa: F401 - the DAG file's import

S3_CONN_ID = "gcmx_s3"
IDENTITY_CONN_ID = "gcmx_identity"
OWNER = "gcmx-data-office"
DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}

log = logging.getLogger("gcmx")


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
    log.info("gcmx %s: %s", func.__name__, to_json(result) if isinstance(result, dict) else result)
    return result
