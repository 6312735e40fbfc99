"""Development kit: local SeaweedFS, the demo, local Airflow, synthetic data, provisioning of
test parties, the contract generator.

The runtime never imports this package (tests/unit/test_layout.py holds it to that); it needs the
``devkit`` extra: ``pip install -e '.[devkit]'`` (``make install`` does)."""
