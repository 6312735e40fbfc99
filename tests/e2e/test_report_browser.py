"""The auditor's report of a real bilateral run, opened in a real browser (headless Chromium).

KHM and THA exchange datasets both ways through a real SeaweedFS with the real protocol
(publish, pull, receipts, a contract breach, a replayed revision, a signed audit checkpoint).
KHM's report must list every exchange with the right status, carry no record value, load
nothing from outside, render to a non-blank PNG and to PDF, and show a tampered audit log as
failed. In the browser every expectation row of every validation and the suppression
breakdown of every sent exchange are there, and the inline script made every table sortable
and filterable. Screenshots, PDF and DOM dumps stay in build/report-artifacts/ for CI.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from exchange.audit.log import AuditLog, publish_checkpoint
from exchange.protocol.inbound import pull, receive
from exchange.protocol.outbound import ContractBreach, publish
from exchange.protocol.receipts import collect_receipts
from exchange.report import report_html, write_html
from tests.conftest import REPO, start_seaweed
from tests.support.protocol import dataset, make_nodes

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "build" / "report-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
WINDOW = (1280, 2000)
SCALE = 10_000_019


def distinctive(path: Path) -> Path:
    """Scale every count by a large prime: margins still add up, and each value is unmistakable."""
    table = pq.read_table(path)
    index = table.column_names.index("children")
    scaled = pc.multiply(table.column("children"), pa.scalar(SCALE, pa.int64()))
    pq.write_table(table.set_column(index, "children", scaled), path)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small bilateral run on its own SeaweedFS; returns KHM's node and what happened."""
    base = tmp_path_factory.mktemp("demo")
    server = start_seaweed(base / "seaweed")
    try:
        nodes = make_nodes(server, base / "parties")
        khm, tha = nodes["KHM"], nodes["THA"]
        src = base / "src"
        cotm, births = "children_on_the_move.khm-tha", "child_birth_registrations.tha-khm"
        sent = {publish(khm, dataset(cotm, src, "2026-10", seed=3), cotm, "2026-10").exchange_id: "delivered"}
        with pytest.raises(ContractBreach):
            publish(khm, dataset(cotm, src, "2026-11", violations=["unknown_code"]), cotm, "2026-11")
        children = distinctive(dataset("children_on_the_move.tha-khm", src, "2026-10", seed=4))
        received = {publish(tha, children, "children_on_the_move.tha-khm", "2026-10").exchange_id: "landed"}
        old = publish(tha, dataset(births, src, "2026-09", seed=7), births, "2026-09")
        new = publish(tha, dataset(births, src, "2026-09", seed=8), births, "2026-09")
        assert {r.status for r in pull(tha, "KHM")} == {"landed"}
        assert receive(khm, "THA", new.prefix).status == "landed"
        pull(khm, "THA")  # lands the children's table, refuses the replayed older revision
        received.update({new.exchange_id: "landed", old.exchange_id: "rejected"})
        assert {r.exchange_id: r.status for r in collect_receipts(khm, "THA")} == dict.fromkeys(
            sent, "accepted"
        )
        late = publish(khm, dataset(cotm, src, "2026-09", seed=5), cotm, "2026-09")
        sent[late.exchange_id] = "awaiting receipt"
        publish_checkpoint(
            AuditLog.for_home(khm.home, "KHM"), khm.identity.signing_key, khm.store, ["khm-to-tha"]
        )
        counts = {v for v in pq.read_table(children).column("children").to_pylist() if v}
        yield {"node": khm, "expected": {**sent, **received}, "children_counts": counts}
    finally:
        server.stop()


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run Debian's headless Chromium once with a throw-away profile."""
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: run `make tools` (Debian package chromium)"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            cwd=cwd,
            capture_output=True,
            timeout=180,
            check=True,
        )


def png_pixels(path: Path) -> tuple[int, int, int, list[bytearray]]:
    """Width, height, bytes per pixel and unfiltered rows of an 8-bit RGB(A) PNG (zlib only)."""
    data, pos, idat = path.read_bytes(), 8, b""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
    assert depth == 8 and colour in (2, 6)
    step = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * step, [], bytearray(width * step)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - step] if x >= step else 0
            b, c = prev[x], prev[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, step, rows


def colours(path: Path) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of a PNG screenshot."""
    _, _, step, rows = png_pixels(path)
    return {(r[i], r[i + 1], r[i + 2]) for r in rows for i in range(0, len(r), step)}


def render(node, out: Path, name: str, screenshot_only: bool = False) -> dict:
    """Write the report of ``node`` as ``name``.html and render it with Chromium."""
    suites = ((node.settings.contracts, node.settings.expectations),)
    html, data = report_html(node.home, node.party, (node.settings.keyring_dir, node.settings.identity_dir), suites)
    page = write_html(html, out / f"{name}.html")
    url = page.resolve().as_uri()
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    chromium(f"--screenshot={out / f'{name}.png'}", size, url, cwd=out)
    if screenshot_only:
        return {"html": html, "data": data}
    chromium(f"--print-to-pdf={out / f'{name}.pdf'}", "--no-pdf-header-footer", url, cwd=out)
    dom = chromium("--dump-dom", url, cwd=out).stdout.decode()
    (out / f"{name}.dom.html").write_text(dom)
    return {"html": html, "data": data, "dom": dom}


@pytest.fixture(scope="module")
def rendered(run):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return render(run["node"], ARTIFACTS, "report")


def test_every_exchange_with_its_status(run, rendered):
    statuses = {item["id"]: item["status"] for item in rendered["data"]["exchanges"]}
    assert statuses == run["expected"]
    assert [b["status"] for b in rendered["data"]["blocked"]] == ["not sent"]
    assert rendered["data"]["audit"]["verdict"]["ok"], rendered["data"]["audit"]["verdict"]["problems"]
    assert rendered["data"]["audit"]["checkpoint"]["signature"].startswith("verified")


def test_no_external_reference_and_no_record_value(run, rendered):
    html = rendered["html"]
    assert not re.search(
        r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", html, re.I
    )
    assert "http://" not in html and "https://" not in html
    assert run["children_counts"]
    assert not [v for v in run["children_counts"] if f"{v:,}" in html or str(v) in html]


def test_browser_renders_the_page(run, rendered):
    width, height, _, _ = png_pixels(ARTIFACTS / "report.png")
    assert (width, height) == WINDOW
    seen = colours(ARTIFACTS / "report.png")
    assert len(seen) > 50, "the screenshot looks blank"
    assert (0xE2, 0xF3, 0xE6) in seen, "the green 'audit chain intact' banner is not painted"
    assert (0x00, 0x72, 0xB2) in seen, "the chart's bars are not painted"
    dom = rendered["dom"]
    assert "auditor's report for KHM" in dom and "Audit chain intact" in dom
    for exchange_id in run["expected"]:
        assert exchange_id in dom
    pdf = (ARTIFACTS / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2


def test_tampered_log_shows_as_failed(run, tmp_path):
    node = run["node"]
    log = AuditLog.for_home(node.home, node.party).path
    original = log.read_bytes()
    lines = original.splitlines(keepends=True)
    try:
        log.write_bytes(b"".join(lines[:2] + lines[3:]))  # drop one entry
        result = render(node, ARTIFACTS, "report-tampered", screenshot_only=True)
    finally:
        log.write_bytes(original)
    verdict = result["data"]["audit"]["verdict"]
    assert not verdict["ok"] and "Audit chain FAILED verification" in result["html"]
    assert (0xFB, 0xE5, 0xE3) in colours(ARTIFACTS / "report-tampered.png"), (
        "the red 'failed verification' banner is not painted"
    )


def test_every_expectation_row_and_the_suppression_breakdown_in_the_browser(run, rendered):
    dom, data = rendered["dom"], rendered["data"]
    items = data["exchanges"] + data["blocked"]
    checks = [check for item in items for check in item["validations"]]
    assert checks and all(check["suite"] and check["expectations"] for check in checks)
    assert dom.count('<tr class="expectation ') == sum(len(check["expectations"]) for check in checks)
    for check in checks:  # the suite's parameters are shown (allowed sets at least)
        assert any(what == "allowed values" for e in check["expectations"] for what, _ in e["parameters"])
    sent = [x for x in data["exchanges"] if x["direction"] == "outbound"]
    for item in sent:  # the sender's own disclosure report: by rule and by dimension
        disclosure = item["disclosure"]
        assert disclosure["tables"] and disclosure["byDimension"]
        section = dom[dom.index(f'id="{item["anchor"]}-suppression"'):]
        section = section[: section.index("</div>")]
        assert "Suppressed cells by rule" in section and "Suppressed cells by dimension" in section
        assert f'{disclosure["cellsPrimarySuppressed"]:,}' in section
        assert f'{disclosure["cellsSuppressed"]:,} cells' in dom  # the same count in the exchanges table
    (blocked,) = data["blocked"]
    failed = [e for e in blocked["validations"][0]["expectations"] if e["outcome"] == "failed"]
    assert failed and all(e["failing_rows"] for e in failed if not e["table_level"])
    assert dom.count('class="sort"') >= dom.count("<th scope=\"col\"") > 0  # the script ran
    assert 'class="table-filter"' in dom


def test_no_record_value_of_childrens_data_in_the_browser(run, rendered):
    dom = rendered["dom"]
    assert run["children_counts"]
    assert not [v for v in run["children_counts"] if f"{v:,}" in dom or str(v) in dom]


def test_screenshot_of_the_expectation_and_suppression_tables(run, rendered):
    """The details alone (overview sections hidden by one extra style rule): a CI artifact an
    auditor can look at, painted with the expectation rows' pass and fail badges."""
    overview = "header, nav, #glance, #audit, #over-time, #summary, #exchanges { display: none; }"
    page = ARTIFACTS / "report-details.html"
    page.write_text(rendered["html"].replace("</head>", f"<style>{overview}</style></head>", 1))
    shot = ARTIFACTS / "report-details.png"
    chromium(f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.resolve().as_uri(),
             cwd=ARTIFACTS)
    seen = colours(shot)
    assert len(seen) > 50, "the details screenshot looks blank"
    assert (0xE2, 0xF3, 0xE6) in seen, "no green 'passed' badge painted"
