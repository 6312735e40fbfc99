"""Development kit: local SeaweedFS, the demo, local Airflow, synthetic data.

The runtime never imports this package."""
