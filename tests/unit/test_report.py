"""The auditor's report of a KHM home holding every kind of exchange (see report_home)."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import pytest

from exchange.report import report_html
from tests.support.report_home import PARTY, SECRET_COUNTS, SECRET_TEXT, build_home

VOID = {"meta", "br", "input", "link", "img", "hr", "line", "rect", "circle", "polyline", "path"}
EXPECTED_STATUS = {
    "delivered": "delivered",
    "refused": "rejected by partner",
    "awaiting": "awaiting receipt",
    "landed": "landed",
    "rejected": "rejected",
    "unsigned": "rejected",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_home(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(built):
    return report_html(built["home"], PARTY)


def article(html: str, exchange_id: str) -> str:
    match = re.search(rf'<article class="exchange[^"]*" id="x-{exchange_id[:16]}".*?</article>', html, re.S)
    assert match, f"no details for exchange {exchange_id}"
    return match.group(0)


class _Structure(HTMLParser):
    """Checks tags balance and collects what the accessibility tests need."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.headings: list[int] = []
        self.tables = self.captions_or_labels = self.scoped = self.unscoped_headers = 0
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "table":
            self.tables += 1
        if tag == "th" and "scope" not in attrs:
            self.unscoped_headers += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()


def test_every_exchange_appears_with_its_status(built, report):
    html, data = report
    statuses = {item["id"]: item["status"] for item in data["exchanges"]}
    for name, exchange_id in built["exchanges"].items():
        assert statuses[exchange_id] == EXPECTED_STATUS[name], name
        assert f"{EXPECTED_STATUS[name]}</span>" in article(html, exchange_id)
    assert len(data["exchanges"]) == len(built["exchanges"])
    assert [b["id"] for b in data["blocked"]] == [built["blocked"]]
    assert built["blocked"] in html and "Inputs not sent" in html


def test_summary_counts_per_partner_dataset_period(report):
    _, data = report
    totals = data["totals"]
    assert (totals["sent"], totals["delivered"], totals["rejected_by_partner"], totals["awaiting"]) == (
        3,
        1,
        1,
        1,
    )
    assert (totals["received"], totals["landed"], totals["rejected_by_us"], totals["blocked"]) == (3, 1, 2, 1)
    rows = {row["key"]: row for row in data["summary"]}
    assert rows[("THA", "workers_deployed", "2026-08")]["delivered"] == 1
    assert rows[("THA", "children_on_the_move", "2026-09")]["landed"] == 1
    assert rows[("THA", "children_on_the_move", "2026-09")]["blocked"] == 1
    periods = {row["key"][0]: row for row in data["timeline"]}
    assert periods["2026-08"]["pass_rate"] == 0.5


def test_exchange_details_for_the_auditor(built, report):
    html, _ = report
    refused = article(html, built["exchanges"]["refused"])
    assert "expect_column_values_to_be_in_set" in refused and "care_situation" in refused
    assert '<td class="num">10</td>' in refused
    assert "exchange fails contract children_on_the_move.khm-tha" in refused
    delivered = article(html, built["exchanges"]["delivered"])
    assert "1,234,567" in delivered
    assert "249 (223 primary, 26 secondary; the partner sees one flag)" in delivered
    assert "lower 3, upper 5" in delivered
    assert built["manifest_sha256"][built["exchanges"]["delivered"]] in delivered
    assert "matches the receipt" in delivered
    assert "agreement signed by KHM, THA" in delivered
    assert "2026-08-28T09:15:02Z" in delivered
    returnees = article(html, built["exchanges"]["rejected"])
    assert "5 / 5" in returnees and "person_id" in returnees
    assert "could not be evaluated" in returnees
    unsigned = article(html, built["exchanges"]["unsigned"])
    assert "signature does not verify" in unsigned and "no verification recorded" in unsigned


def test_no_record_value_of_childrens_data(built, report):
    html, _ = report
    for value in SECRET_TEXT:
        assert value not in html
    for value in SECRET_COUNTS:
        assert str(value) not in html and f"{value:,}" not in html
    landed = next(built["home"].glob("landing/*/*/*/*/data.parquet"))
    assert landed.stat().st_size > 0  # the values were there to leak


def test_self_contained_without_external_reference(built, report):
    html, _ = report
    references = re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]+)', html, re.I)
    references += re.findall(r"url\(\s*['\"]?([^'\")]+)", html, re.I)
    home = str(built["home"].resolve())
    assert all(r.startswith(("#", f"file://{home}/")) for r in references), references  # its own JSON files
    assert "http://" not in html and "https://" not in html
    assert "<script src" not in html.lower() and html.lower().count("<script") == 1  # the inline sort/filter
    assert "<link" not in html.lower() and "<img" not in html.lower()
    assert "@import" not in html


def test_well_formed_and_accessible(report):
    html, _ = report
    parser = _Structure()
    parser.feed(html)
    assert not parser.errors and parser.stack == [], (parser.errors, parser.stack)
    assert '<html lang="en">' in html
    assert parser.headings[0] == 1 and parser.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(parser.headings, parser.headings[1:], strict=False))
    assert parser.unscoped_headers == 0 and parser.tables > 5
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in html
    assert "@media print" in html and "break-before: page" in html


def test_audit_verdict_with_checkpoint(report):
    html, data = report
    verdict = data["audit"]["verdict"]
    assert verdict["ok"] and verdict["checkpoint_seq"] == data["audit"]["checkpoint"]["seq"]
    assert data["audit"]["checkpoint"]["signature"].startswith("verified")
    assert f"consistent with the signed checkpoint at seq {verdict['checkpoint_seq']}" in html
    assert "Audit chain intact" in html


def _copy(built, tmp_path):
    home = tmp_path / PARTY
    shutil.copytree(built["home"], home)
    return home, home / "audit" / f"{PARTY}.audit.jsonl"


def test_edited_audit_entry_fails_verification(built, tmp_path):
    home, log = _copy(built, tmp_path)
    lines = log.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[4])
    entry["rows"] = 1
    lines[4] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    html, data = report_html(home, PARTY)
    assert not data["audit"]["verdict"]["ok"]
    assert "Audit chain FAILED verification" in html and "failed verification</span>" in html
    assert "line 5: entry edited" in html


def test_truncated_log_is_caught_by_the_checkpoint(built, tmp_path):
    home, log = _copy(built, tmp_path)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-4]))
    html, data = report_html(home, PARTY)
    problems = data["audit"]["verdict"]["problems"]
    assert any("log truncated" in p for p in problems), problems
    assert "Audit chain FAILED verification" in html


def test_forged_checkpoint_is_not_trusted(built, tmp_path):
    home, _ = _copy(built, tmp_path)
    latest = home / "audit" / "checkpoints" / "latest.json"
    checkpoint = json.loads(latest.read_bytes())
    latest.write_text(json.dumps({**checkpoint, "seq": 3}, sort_keys=True, separators=(",", ":")) + "\n")
    html, data = report_html(home, PARTY)
    assert not data["audit"]["verdict"]["ok"]
    assert data["audit"]["checkpoint"]["signature"] == "invalid"
    assert "FAILED verification" in html


def test_missing_optional_fields_show_a_dash(tmp_path):
    home = tmp_path / PARTY
    (home / "outbound" / "a1").mkdir(parents=True)
    (home / "outbound" / "a1" / "manifest.json").write_text(
        json.dumps(
            {
                "exchange_id": "a1",
                "dataset": "workers_deployed",
                "period": "2026-10",
                "recipients": [{"party": "MYS"}],
                "validation": {"success": True},
                "disclosure": {"method": "none"},
            }
        )
    )
    (home / "inbound").mkdir()
    (home / "inbound" / "b2.json").write_text("{not json")
    html, data = report_html(home, PARTY)
    kinds = {i["id"]: i for i in data["exchanges"]}
    assert kinds["a1"]["status"] == "awaiting receipt" and kinds["a1"]["partner"] == "MYS"
    assert kinds["b2"]["status"] == "rejected"
    assert "—" in article(html, "a1") and "no audit log" in html


def test_empty_home_renders(tmp_path):
    html, data = report_html(tmp_path / "nothing", PARTY)
    assert data["exchanges"] == [] and data["audit"]["verdict"]["ok"]
    assert "No exchange recorded." in html and data["chart"] is None
