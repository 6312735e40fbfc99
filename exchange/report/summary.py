"""Counts for the report: per partner / dataset / period, per period, totals, and the chart.

The chart is computed here as plain geometry (bars, points, ticks) so the template only
draws SVG elements; it needs no script and no external asset.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

COUNTERS = (
    "sent",
    "delivered",
    "rejected_by_partner",
    "awaiting",
    "received",
    "landed",
    "rejected_by_us",
    "blocked",
    "checks",
    "passed",
)
CHART = {"width": 1000, "height": 300, "left": 56, "right": 72, "top": 24, "bottom": 56}
SERIES = (
    ("sent", "Sent: delivered or awaiting receipt"),
    ("received", "Received and landed"),
    ("rejected", "Rejected (either side) or not sent"),
)


def outcome(item: dict) -> bool | None:
    """The decisive validation result: the last validation that reached a verdict."""
    verdicts = [v["success"] for v in item.get("validations", []) if v.get("success") is not None]
    return verdicts[-1] if verdicts else None


def _count(row: dict, item: dict) -> None:
    status = item["status"]
    if item["direction"] == "outbound" and status == "not sent":
        row["blocked"] += 1
    elif item["direction"] == "outbound":
        row["sent"] += 1
        row["delivered"] += status == "delivered"
        row["rejected_by_partner"] += status == "rejected by partner"
        row["awaiting"] += status in ("awaiting receipt", "receipt invalid")
    else:
        row["received"] += 1
        row["landed"] += status == "landed"
        row["rejected_by_us"] += status == "rejected"
    verdict = outcome(item)
    if verdict is not None:
        row["checks"] += 1
        row["passed"] += verdict


def _rows(items: list[dict], key) -> list[dict]:
    rows: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for item in items:
        _count(rows[key(item)], item)
    return [
        {"key": k, **v, "pass_rate": v["passed"] / v["checks"] if v["checks"] else None}
        for k, v in sorted(rows.items(), key=lambda kv: tuple(x or "" for x in kv[0]))
    ]


def _nice_top(value: int) -> int:
    """The axis maximum: four equal integer steps of 1, 2, 2.5, 3, 4 or 5 times a power of ten."""
    raw = max(value, 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    tick = next(
        f * magnitude
        for f in (1, 2, 2.5, 3, 4, 5, 10)
        if f * magnitude >= raw and float(f * magnitude).is_integer()
    )
    return int(tick * 4)


def chart(periods: list[dict]) -> dict[str, Any] | None:
    """Geometry of the stacked bars (exchanges per period) and the pass-rate line."""
    if not periods:
        return None
    c = CHART
    plot_w, plot_h = c["width"] - c["left"] - c["right"], c["height"] - c["top"] - c["bottom"]
    stacks = [
        {
            "period": p["key"][0],
            "sent": p["sent"] - p["rejected_by_partner"],
            "received": p["landed"],
            "rejected": p["rejected_by_partner"] + p["rejected_by_us"] + p["blocked"],
            "pass_rate": p["pass_rate"],
        }
        for p in periods
    ]
    top = _nice_top(max(s["sent"] + s["received"] + s["rejected"] for s in stacks))
    band = plot_w / len(stacks)
    width = min(44.0, band * 0.6)
    bars, points = [], []
    for index, stack in enumerate(stacks):
        x = c["left"] + band * index + (band - width) / 2
        base = c["top"] + plot_h
        segments = []
        for key, label in SERIES:
            height = plot_h * stack[key] / top
            if stack[key]:
                segments.append(
                    {
                        "series": key,
                        "label": label,
                        "value": stack[key],
                        "x": round(x, 1),
                        "y": round(base - height, 1),
                        "width": round(width, 1),
                        "height": round(height, 1),
                    }
                )
            base -= height
        centre = round(x + width / 2, 1)
        bars.append(
            {
                "period": stack["period"],
                "x": centre,
                "segments": segments,
                "total": stack["sent"] + stack["received"] + stack["rejected"],
            }
        )
        if stack["pass_rate"] is not None:
            points.append(
                {
                    "x": centre,
                    "y": round(c["top"] + plot_h * (1 - stack["pass_rate"]), 1),
                    "rate": stack["pass_rate"],
                    "period": stack["period"],
                }
            )
    ticks = [{"value": top * i // 4, "y": round(c["top"] + plot_h * (1 - i / 4), 1)} for i in range(5)]
    rate_ticks = [{"value": i * 25, "y": round(c["top"] + plot_h * (1 - i / 4), 1)} for i in range(5)]
    return {
        **c,
        "plot_right": c["width"] - c["right"],
        "plot_bottom": c["top"] + plot_h,
        "bars": bars,
        "points": points,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "ticks": ticks,
        "rate_ticks": rate_ticks,
        "rotate_labels": len(bars) > 12,
        "series": SERIES,
    }


# Alarm kinds (exchange/audit/alarms.py KINDS) by what the auditor checks.
ALARM_GROUPS = (
    ("receipts", "Receipts", ("receipt-slot-taken", "manifest-replaced")),
    ("freshness", "Freshness (the sender's signed index)", (
        "index-invalid", "index-rollback", "index-fork", "index-slot-taken", "exchange-withheld",
        "exchange-deleted", "exchange-replaced", "exchange-unindexed", "manifest-untrusted")),
    ("witness", "Witnessed audit checkpoints", ("checkpoint-invalid", "checkpoint-backwards", "checkpoint-fork")),
)


def alarm_groups(alarms: list[dict], exchanges: list[dict]) -> list[dict]:
    """Receipts, freshness and witness-checkpoint panels: alarms of each kind, plus receipts still
    awaited or invalid (a receipt problem is not always an alarm)."""
    groups = []
    known = {kind for _, _, kinds in ALARM_GROUPS for kind in kinds}
    for key, title, kinds in ALARM_GROUPS:
        found = [a for a in alarms if a["kind"] in kinds or (key == "freshness" and a["kind"] not in known)]
        group = {"key": key, "title": title, "alarms": len(found),
                 "kinds": sorted({a["kind"] for a in found}), "awaiting": 0, "invalid": 0}
        if key == "receipts":
            group["awaiting"] = sum(x["status"] == "awaiting receipt" for x in exchanges)
            group["invalid"] = sum(x["status"] == "receipt invalid" for x in exchanges)
        group["tone"] = "bad" if group["alarms"] or group["invalid"] else ("wait" if group["awaiting"] else "ok")
        groups.append(group)
    return groups


def summarise(data: dict) -> dict:
    """``data`` from :func:`exchange.report.gather.gather` plus summary, timeline, totals, chart."""
    items = data["exchanges"] + data["blocked"]
    by_period = _rows(items, lambda i: (i["period"],))
    totals = _rows(items, lambda i: ())
    return {
        **data,
        "summary": _rows(items, lambda i: (i["partner"], i["dataset"], i["period"])),
        "timeline": by_period,
        "totals": totals[0] if totals else {**dict.fromkeys(COUNTERS, 0), "pass_rate": None},
        "chart": chart(by_period),
        "partners": sorted({i["partner"] for i in items if i["partner"]}),
        "alarm_groups": alarm_groups(data["alarms"], data["exchanges"]),
    }
