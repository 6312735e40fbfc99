"""Issue 14 items 13-15: every expectation with its parameters, suppression broken down, sortable
and filterable tables, links to the JSON documents, receipt / freshness / witness panels."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pytest

from exchange.audit.log import AuditLog
from exchange.disclosure.kanon import k_anonymise
from exchange.disclosure.outcome import DisclosureReport
from exchange.disclosure.rules import DisclosureRules
from exchange.report import report_html
from exchange.report.views import disclosure_view
from tests.support.report_home import (
    EXTRA_COLUMN,
    MISSING_COLUMN,
    PARTY,
    RECORDS_DISCLOSURE,
    SECRET_COUNTS,
    SECRET_TEXT,
    build_home,
    suite_expectations,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_home(tmp_path_factory.mktemp("details"))


@pytest.fixture(scope="module")
def report(built):
    return report_html(built["home"], PARTY)


def article(html: str, anchor: str) -> str:
    match = re.search(rf'<article class="exchange[^"]*" id="{anchor}".*?</article>', html, re.S)
    assert match, f"no article {anchor}"
    return match.group(0)


def item(data: dict, exchange_id: str) -> dict:
    return next(x for x in data["exchanges"] + data["blocked"] if x["id"] == exchange_id)


def test_every_expectation_of_the_suite_with_parameters_on_both_sides(built, report):
    html, data = report
    refused = item(data, built["exchanges"]["refused"])
    suite = suite_expectations("children_on_the_move.khm-tha")
    assert suite
    for check in refused["validations"]:  # KHM before sending (manifest) and THA on receipt (receipt)
        assert check["suite"]["name"] == "children_on_the_move.khm-tha-1.0.0"
        assert check["suite"]["version"] == "1.0.0"
        assert [(e["expectation"], e["column"]) for e in check["expectations"]] == [
            (e["type"], e["kwargs"].get("column")) for e in suite
        ]
    sender, receiver = refused["validations"]
    assert {e["outcome"] for e in sender["expectations"]} == {"passed"}
    failed = [e for e in receiver["expectations"] if e["outcome"] != "passed"]
    assert [(e["expectation"], e["column"], e["failing_rows"]) for e in failed] == [
        ("expect_column_values_to_be_in_set", "care_situation", 10)
    ]
    shown = article(html, refused["anchor"])
    assert "children_on_the_move.khm-tha-1.0.0</code> (version 1.0.0" in shown
    assert shown.count('<tr class="expectation ') == 2 * len(suite)
    assert "allowed values:</span> <code>ACC, UNACC, SEP, LEFT</code>" in shown
    assert "bounds:</span> <code>value ≥ 0</code>" in shown
    assert "pattern (ECMA-262):</span> <code>^\\d{4}-(?:0[1-9]|1[0-2])$</code>" in shown
    assert "columns (exactly):</span> <code>period, ref_area" in shown


def test_failing_rows_are_counts_and_missing_and_extra_columns_are_words(built, report):
    html, data = report
    blocked = data["blocked"][0]
    (check,) = blocked["validations"]
    rows = {(e["expectation"], e["column"]): e for e in check["expectations"]}
    assert rows[("expect_column_values_to_be_in_set", "care_situation")]["failing_rows"] == 10
    assert rows[("expect_column_values_to_be_in_set", "care_situation")]["failing_share"] == 1.85
    assert rows[("expect_column_values_to_not_be_null", "period")]["failing_rows"] == 0
    assert rows[("expect_column_values_to_be_between", "children")]["outcome"] == "not evaluated"
    assert rows[("expect_compound_columns_to_be_unique", None)]["failing_rows"] == 2  # not in the suite: still shown
    assert rows[("expect_table_row_count_to_be_between", None)]["observed"] == "540"
    words = f"column `{MISSING_COLUMN}` is missing; column `{EXTRA_COLUMN}` is not in the contract"
    assert check["columns"] == words
    shown = article(html, blocked["anchor"])
    assert words in shown
    failing = re.findall(r'<tr class="expectation failed">.*?</tr>', shown, re.S)
    assert len(failing) == 4 and all("could not be evaluated" in r or re.search(r'"num">\d', r) or "n/a (table)" in r
                                      for r in failing)
    assert '<td class="num">10</td>' in shown and "1.9 %" in shown
    every_cell = re.findall(r'<tr class="expectation[^"]*">(?:.*?<td class="num">){2}(.*?)</td>', html, re.S)
    assert every_cell and any(c != "—" for c in every_cell), "the failing-rows column must not be all dashes"


def test_no_record_value_reaches_the_expectation_tables(built, report):
    html, _ = report
    for value in SECRET_TEXT:
        assert value not in html
    for value in SECRET_COUNTS:
        assert str(value) not in html and f"{value:,}" not in html


def test_suppression_by_rule_and_dimension_from_the_senders_own_report(built, report):
    html, data = report
    delivered = item(data, built["exchanges"]["delivered"])
    view = delivered["disclosure"]
    assert (view["cellsPrimarySuppressed"], view["cellsSecondarySuppressed"], view["cellsSuppressed"]) == (223, 26, 249)
    assert view["tables"] == [{"key": "period=2026-08", "cells": 540, "primary": 223, "secondary": 26,
                               "suppressed": 249}]
    per_dimension: dict[str, int] = {}
    for row in view["byDimension"]:
        per_dimension[row["dimension"]] = per_dimension.get(row["dimension"], 0) + row["cells"]
    assert per_dimension == {"care_situation": 249, "sex": 249}
    shown = article(html, delivered["anchor"])
    assert "Suppressed cells by rule" in shown and "Suppressed cells by dimension" in shown
    assert "<code>UNACC</code></td><td class=\"num\">100</td>" in shown
    assert view["suppressedText"] == "249 cells"
    row = re.search(rf'<tr class="out[^"]*">\s*<th scope="row"><a href="#{delivered["anchor"]}".*?</tr>', html, re.S)
    assert row and "249 cells" in row.group(0)


def test_records_counts_agree_and_are_labelled(built, report):
    html, data = report
    returnees = item(data, built["exchanges"]["rejected"])
    assert returnees["disclosure"]["suppressedText"] == "4 records (11 values)"
    shown = article(html, returnees["anchor"])
    assert "Records with a suppressed value</dt><dd>4</dd>" in shown
    assert "Values suppressed</dt><dd>11 " in shown
    assert "4 records (11 values)" in html  # the exchanges table says the same, with its units
    own = disclosure_view(RECORDS_DISCLOSURE)
    assert own["valuesByColumn"] == [{"column": "age_band", "values": 5}, {"column": "sex", "values": 2},
                                     {"column": "province", "values": 4}]
    assert sum(r["values"] for r in own["valuesByColumn"]) == own["valuesSuppressed"]


def test_kanonymity_records_values_suppressed_per_quasi_identifier():
    rules = DisclosureRules.from_dict({"method": "records", "quasiIdentifiers": ["age_band", "sex", "province"],
                                       "k": 3})
    table = pa.table({"age_band": ["A"] * 6 + ["B", "C", "D"], "sex": ["F", "M"] * 4 + ["F"],
                      "province": ["P1"] * 5 + ["P2", "P3", "P4", "P5"]})
    _, outcome = k_anonymise(table, rules)
    assert sum(outcome.suppressed_by_column.values()) == outcome.suppressed_values
    assert outcome.suppressed_values > outcome.suppressed_records  # why "records" and "values" differ
    report = DisclosureReport("records", rules.to_dict(), records_total=9,
                              records_suppressed=outcome.suppressed_records,
                              values_suppressed=outcome.suppressed_values,
                              values_suppressed_by_column=outcome.suppressed_by_column)
    assert report.to_dict()["valuesSuppressedByColumn"] == outcome.suppressed_by_column
    assert "valuesSuppressedByColumn" not in report.for_partner()  # the wire summary is unchanged


def test_every_table_sorts_and_filters(report):
    html, _ = report
    tables = re.findall(r"<table[^>]*>", html)
    assert tables and all('class="sortable' in t or " sortable" in t for t in tables), [
        t for t in tables if "sortable" not in t]
    assert html.count("<script>") == 1 and "<script src" not in html
    assert 'addEventListener("click"' in html and 'type = "search"' in html
    assert re.search(r'<input type="radio" name="[^"]+-show" id="[^"]+-failed" value="failed">', html)
    assert 'input[value="failed"]:checked ~ .table-wrap tbody tr.held { display: none; }' in html


def test_each_exchange_links_its_validation_and_disclosure_json(built, report):
    html, data = report
    home = Path(built["home"]).resolve()
    delivered = item(data, built["exchanges"]["delivered"])
    assert [f["name"] for f in delivered["files"]] == ["disclosure.json", "manifest.json", "receipt.json"]
    landed = item(data, built["exchanges"]["landed"])
    assert [f["name"] for f in landed["files"]] == ["validation.json", "manifest.json"]
    assert [f["name"] for f in data["blocked"][0]["files"]] == ["validation.json", "reason.json"]
    links = re.findall(r'href="(file:[^"]+)"', html)
    assert links
    for link in links:
        path = Path(unquote(urlparse(link).path))
        assert path.is_file() and home in path.parents and path.suffix == ".json"


def test_receipts_freshness_and_witness_panels(tmp_path):
    log = AuditLog.for_home(tmp_path, "THA")
    log.append("land", exchange_id="ab" * 16, dataset="children_on_the_move", period="2026-10")
    for kind in ("receipt-slot-taken", "exchange-withheld", "checkpoint-fork"):
        log.append("alarm", kind=kind, partner="KHM", exchange_id="cd" * 16, reason=f"seen: {kind}")
    html, data = report_html(tmp_path, "THA")
    groups = {g["key"]: g for g in data["alarm_groups"]}
    assert {k: (g["alarms"], g["kinds"], g["tone"]) for k, g in groups.items()} == {
        "receipts": (1, ["receipt-slot-taken"], "bad"),
        "freshness": (1, ["exchange-withheld"], "bad"),
        "witness": (1, ["checkpoint-fork"], "bad"),
    }
    glance = html[html.index('id="glance"'):html.index('id="audit"')]
    assert 'class="panel bad" id="panel-witness"' in glance and "checkpoint-fork" in glance


def test_quiet_panels_say_awaited_receipts(report):
    html, data = report
    groups = {g["key"]: g for g in data["alarm_groups"]}
    assert (groups["receipts"]["awaiting"], groups["receipts"]["tone"]) == (1, "wait")
    assert groups["freshness"]["tone"] == groups["witness"]["tone"] == "ok"
    assert "<strong>1</strong> receipt(s) awaited" in html
