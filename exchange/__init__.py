"""GCM data exchange: safe, routine sharing of migration data between partner countries.

Every rule lives in this package; Airflow DAGs and the ``gcmx`` command only call it.
"""

__version__ = "0.1.0"
