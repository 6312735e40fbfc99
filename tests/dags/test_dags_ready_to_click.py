"""``make airflow`` (``demo.airflow_ui``): KHM's DAGs come up unpaused and the banner says so,
and how to send. Airflow itself is not started: ``subprocess.run`` is replaced where
``airflow standalone`` would start, and the set-up by plain objects."""

from __future__ import annotations

from types import SimpleNamespace

from exchange.devkit import demo
from exchange.devkit.airflow_local import LocalAirflow


def test_make_airflow_unpauses_the_dags_and_says_how_to_trigger(tmp_path, monkeypatch, capsys):
    khm = LocalAirflow("KHM", tmp_path / "parties" / "KHM", tmp_path / "airflow" / "KHM", "{}")
    khm.airflow_home.mkdir(parents=True)
    stopped, started = [], []
    server = SimpleNamespace(endpoint="http://127.0.0.1:1", stop=lambda: stopped.append(True))
    monkeypatch.setattr(demo, "setup", lambda base, period, classic=False: (server, {"KHM": khm}))
    monkeypatch.setattr(demo.signal, "signal", lambda *args: None)
    monkeypatch.setattr(demo.subprocess, "run",
                        lambda args, env, check: started.append(env) or SimpleNamespace(returncode=0))
    assert demo.airflow_ui(tmp_path / "sessions", "2026-10") == 0
    assert started[0]["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False" and stopped
    banner = " ".join(capsys.readouterr().out.split())
    assert "every DAG is UNPAUSED and ready to click, with no catch-up" in banner
    assert "an outbound DAG sends only when you trigger it or at its contract's next schedule point" in banner
    assert "open gcmx_outbound_children_on_the_move_khm_tha, press Trigger (▶)" in banner
    assert "give 2026-10" in banner
