"""Airflow: the task functions the DAGs call and the glue to Airflow."""
