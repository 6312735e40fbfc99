"""Alarms (exchange.audit.alarms) appear in the auditor's report, in red, with their reason."""

from __future__ import annotations

from exchange.audit.log import AuditLog
from exchange.report import report_html


def test_alarms_are_listed_in_red(tmp_path):
    log = AuditLog.for_home(tmp_path, "THA")
    log.append("land", exchange_id="ab" * 16, dataset="children_on_the_move", period="2026-10")
    log.append("alarm", kind="exchange-withheld", partner="KHM", exchange_id="cd" * 16,
               reason="s3://khm-to-tha/children_on_the_move/2026-10/x: indexed at seq 4 by the sender, but "
                      "its signed manifest is not in the bucket")
    html, data = report_html(tmp_path, "THA")
    assert [(a["kind"], a["partner"], a["exchange_id"]) for a in data["alarms"]] == [
        ("exchange-withheld", "KHM", "cd" * 16)]
    assert 'id="alarms"' in html and "exchange-withheld" in html and "indexed at seq 4" in html
    assert '<tr class="bad">' in html


def test_no_alarm_section_without_alarms(tmp_path):
    AuditLog.for_home(tmp_path, "THA").append("land", exchange_id="ab" * 16)
    html, data = report_html(tmp_path, "THA")
    assert data["alarms"] == [] and 'id="alarms"' not in html
