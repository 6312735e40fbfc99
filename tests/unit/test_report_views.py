"""Whitelisted views and formatting of the report: what may reach the HTML, and how it reads."""

from __future__ import annotations

from exchange.report.render import fmt_bytes, fmt_count, fmt_percent, fmt_time, fmt_value
from exchange.report.summary import _nice_top, chart
from exchange.report.views import disclosure_view, name, reason, validation_view


def test_full_report_keeps_counts_and_drops_values():
    view = validation_view(
        {
            "success": False,
            "row_count": 12,
            "outcomes": [
                {
                    "expectation": "expect_column_values_to_be_in_set",
                    "column": "sex",
                    "success": False,
                    "counts": {"unexpected_count": 3, "unexpected_percent": 25.0},
                    "unexpected_sample": ["Dara"],
                    "observed": "Dara",
                },
                {"expectation": "expect_column_to_exist", "column": "sex", "success": True, "counts": {}},
                {
                    "expectation": "expect_column_values_to_be_between",
                    "column": "age",
                    "success": False,
                    "counts": {},
                    "error": "value 17 for Dara",
                },
            ],
        },
        "THA on receipt",
    )
    assert view["success"] is False and (view["evaluated"], view["passed"], view["row_count"]) == (3, 1, 12)
    first, second = view["failed"]
    assert first == {
        "expectation": "expect_column_values_to_be_in_set",
        "column": "sex",
        "unexpected_count": 3,
        "unexpected_percent": 25.0,
        "element_count": None,
        "not_evaluated": False,
    }
    assert second["not_evaluated"] and "Dara" not in repr(view)


def test_summary_labels_are_split_and_sanitised():
    view = validation_view(
        {
            "success": False,
            "evaluated": 45,
            "failed": [
                {"expectation": "expect_column_values_to_be_in_set(care_situation)", "unexpected_count": 10},
                {"expectation": "expect_compound_columns_to_be_unique", "unexpected_count": 2.0},
                {"expectation": "<script>alert('Dara')</script>", "unexpected_count": "many"},
                "expect_table_row_count_to_be_between",
            ],
        },
        "KHM",
    )
    labels = [(f["expectation"], f["column"], f["unexpected_count"]) for f in view["failed"]]
    assert labels == [
        ("expect_column_values_to_be_in_set", "care_situation", 10),
        ("expect_compound_columns_to_be_unique", None, 2),
        ("unnamed expectation", None, None),
        ("expect_table_row_count_to_be_between", None, None),
    ]
    assert view["passed"] == 41


def test_validation_view_of_nothing():
    assert validation_view(None, "x") is None and validation_view({}, "x") is None
    assert validation_view({"evaluated": 2, "failed": []}, "x")["success"] is True


def test_disclosure_view_counts_only():
    view = disclosure_view(
        {
            "method": "aggregate",
            "cellsTotal": 10,
            "cellsPrimarySuppressed": 2,
            "rules": {"minimumCellSize": 5, "dimensions": ["sex"]},
            "audit": {"ok": False, "suppressedCells": 2, "provenCells": 1, "cells": [{"lo": 3}]},
        }
    )
    assert view["cellsSuppressed"] == 2 and view["rules"]["minimumCellSize"] == 5
    assert view["audit"]["ok"] is False and "cells" not in view["audit"]
    assert disclosure_view({"method": "none"})["cellsSuppressed"] is None


def test_names_and_reasons():
    assert name("children_on_the_move.khm-tha") and name("1.0.0") and name("2026-Q3")
    assert name("<b>") is None and name(12) is None and name("x" * 200) is None
    assert reason("  a\n  b ") == "a b" and reason("") is None and len(reason("y" * 1000)) == 400


def test_formatting():
    assert fmt_count(1234567) == "1,234,567" and fmt_count(None) == "—" and fmt_count(True) == "—"
    assert fmt_count(2.5) == "2.50" and fmt_count(3.0) == "3"
    assert fmt_percent(0.5) == "50.0 %" and fmt_percent(1) == "100 %" and fmt_percent(None) == "—"
    assert fmt_time("2026-10-03T14:22:05.123Z") == "2026-10-03T14:22:05Z"
    assert fmt_time("2026-10-03T14:22:05+00:00") == "2026-10-03T14:22:05+00:00" and fmt_time(None) == "—"
    assert fmt_bytes(999) == "999 bytes" and fmt_bytes(48_213) == "48,213 bytes (48.2 kB)"
    assert fmt_value([]) == "—" and fmt_value(False) == "no" and fmt_value(["A", "B"]) == "A, B"


def test_chart_geometry():
    assert _nice_top(0) == 4 and _nice_top(9) == 12 and _nice_top(101) == 120
    periods = [
        {
            "key": ("2026-08",),
            "sent": 2,
            "rejected_by_partner": 1,
            "landed": 1,
            "rejected_by_us": 0,
            "blocked": 1,
            "pass_rate": 0.5,
        },
        {
            "key": ("2026-09",),
            "sent": 0,
            "rejected_by_partner": 0,
            "landed": 0,
            "rejected_by_us": 0,
            "blocked": 0,
            "pass_rate": None,
        },
    ]
    drawn = chart(periods)
    first = drawn["bars"][0]
    assert first["total"] == 4 and [s["value"] for s in first["segments"]] == [1, 1, 2]
    assert drawn["bars"][1]["segments"] == [] and len(drawn["points"]) == 1
    bottom = drawn["plot_bottom"]
    assert abs(sum(s["height"] for s in first["segments"]) - (bottom - drawn["top"])) < 0.5  # 4 of 4
    assert chart([]) is None
