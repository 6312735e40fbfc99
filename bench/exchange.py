"""Benchmark of publish and pull through SeaweedFS on loopback, against their floors.

Usage: .venv/bin/python bench/exchange.py [--rows N] [--compare N1,N2] [--runs R] [--dir DIR]

THA publishes a record-level ``returnees.tha-khm`` dataset of N rows to KHM, and KHM
pulls it. Every stage runs in its own process (time and peak RSS are that stage's
alone): validation, protection, encrypt+upload, download+decrypt, re-validation, and
the whole ``publish`` and ``pull``. The floors run on the same bytes: Parquet read, the
contract's checks written directly in pyarrow.compute, a raw ChaCha20-Poly1305 loop over
64 KiB chunks, and plain boto3 upload_file / download_file to the same server.
Goals (issues 6, 13): transfer stages <= 1.3x their floors; whole publish and whole pull
<= 2.0x the sum of their stage floors; peak RSS of the transfer stages within 10% across
sizes (--compare).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _util import Measured, report, run_measured

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package, not this file (bench/exchange.py)

from exchange.protocol.naming import bucket_name  # noqa: E402 - after the package's folder is first

CONTRACT, PERIOD, SENDER, RECIPIENT = "returnees.tha-khm", "2026-10", "THA", "KHM"
BUCKET = bucket_name(SENDER, RECIPIENT)
STAGE_KEY, FLOOR_KEY = "bench/stage/data.parquet.age", "bench/floor/data.bin"
CHUNK = 64 * 1024
TRANSFER_GOAL, WHOLE_GOAL, RSS_SPREAD_GOAL = 1.3, 2.0, 0.10


# ---- steps, each run in a child process ------------------------------------------------

def _store(state: dict, party: str):
    import boto3

    from exchange.storage.s3 import Store, client_config

    key_id, secret = state["credentials"][party]
    return Store(boto3.client("s3", endpoint_url=state["endpoint"], region_name="us-east-1",
                              aws_access_key_id=key_id, aws_secret_access_key=secret,
                              config=client_config()))


def _node(state: dict, party: str):
    from exchange.protocol.node import Node
    from exchange.settings import load_settings

    home = Path(state["homes"][party])
    settings = load_settings(party=party, home=home, keyring=home / "keyring", identity=home / "keys")
    return Node(settings, _store(state, party))


def _file(state: dict, name: str) -> Path:
    return Path(state["work"]) / name


def step_generate(state: dict) -> None:
    from exchange.contract.model import load_contract
    from exchange.devkit.synthetic import write_dataset

    start = time.perf_counter()
    path = write_dataset(load_contract(CONTRACT), _file(state, "source.parquet"), PERIOD,
                         rows=state["rows"], seed=1)
    report(seconds=time.perf_counter() - start, bytes=path.stat().st_size)


def step_validate(state: dict, which: str) -> None:
    from exchange.contract.model import load_contract
    from exchange.contract.validation import gx_context, validate
    from exchange.protocol.outbound import check_source

    start = time.perf_counter()
    gx_context()  # GX's context: paid once per process, shown apart
    setup = time.perf_counter() - start
    if which == "source":  # what the DAG's validate task runs: contract in force, then GX
        start = time.perf_counter()
        success = check_source(_node(state, SENDER), _file(state, "source.parquet"), CONTRACT, PERIOD).success
    else:
        contract = load_contract(CONTRACT)
        start = time.perf_counter()
        success = validate(_file(state, "landed.parquet"), contract).success
    report(seconds=setup + time.perf_counter() - start, setup=setup, success=success)


def step_protect(state: dict) -> None:
    import pyarrow.parquet as pq

    from exchange.protocol.outbound import ROW_GROUP, outbound_contract, protect_source
    from exchange.storage.streams import file_sha256

    node = _node(state, SENDER)
    contract = outbound_contract(node, CONTRACT, PERIOD)
    source = _file(state, "source.parquet")
    start = time.perf_counter()
    table, _ = protect_source(node, source, contract, file_sha256(source))
    protected = time.perf_counter()
    target = _file(state, "protected.parquet")  # the bytes publish streams into the age writer
    pq.write_table(table, target, row_group_size=ROW_GROUP, compression="zstd")
    report(seconds=protected - start, serialise=time.perf_counter() - protected,
           bytes=target.stat().st_size, sha256=file_sha256(target))


def step_encrypt_upload(state: dict) -> None:
    from exchange.crypto import age
    from exchange.storage.streams import HashingWriter

    node = _node(state, SENDER)
    recipient = node.public_keys(RECIPIENT).age_recipient
    start = time.perf_counter()
    with _file(state, "protected.parquet").open("rb") as src, node.store.writer(BUCKET, STAGE_KEY) as up, \
            age.encryptor(up, [recipient]) as sealed:
        shutil.copyfileobj(src, HashingWriter(sealed), 1 << 20)
    report(seconds=time.perf_counter() - start, bytes=up.result.size)


def step_download_decrypt(state: dict) -> None:
    """Pull's own path: parallel ranged download, hashed, to a file; then that file through
    the age reader, hashed, to the plaintext file (exchange.protocol.inbound)."""
    from exchange.crypto import age
    from exchange.storage.streams import HashingWriter, file_sha256

    node = _node(state, RECIPIENT)
    identities = node.identity.age_identities
    cipher_path = _file(state, "landed.parquet.age")
    start = time.perf_counter()
    with node.store.open_ranged(BUCKET, STAGE_KEY) as body, cipher_path.open("wb") as out:
        shutil.copyfileobj(body, HashingWriter(out), 1 << 20)
    with cipher_path.open("rb") as src, _file(state, "landed.parquet").open("wb") as out:
        plain = HashingWriter(out)
        shutil.copyfileobj(age.decryptor(src, identities), plain, 1 << 20)
    seconds = time.perf_counter() - start
    cipher_path.unlink()
    if plain.hash.hexdigest() != file_sha256(_file(state, "protected.parquet")):
        raise SystemExit("download+decrypt: the plaintext differs from what was encrypted")
    report(seconds=seconds)


def step_publish(state: dict) -> None:
    from exchange.protocol.outbound import publish

    node = _node(state, SENDER)
    start = time.perf_counter()
    result = publish(node, _file(state, "source.parquet"), CONTRACT, PERIOD)
    seconds = time.perf_counter() - start
    manifest = json.loads((node.home / "outbound" / result.exchange_id / "manifest.json").read_text())
    report(seconds=seconds, created=result.created_now, plaintext_sha256=manifest["plaintext"]["sha256"])


def step_pull(state: dict) -> None:
    from exchange.protocol.inbound import pull

    node = _node(state, RECIPIENT)
    start = time.perf_counter()
    results = pull(node, SENDER)
    report(seconds=time.perf_counter() - start, status=[r.status for r in results])


def step_floor_checks(state: dict, which: str) -> None:
    import pyarrow.dataset  # noqa: F401 - imported lazily by the first read_table: not the floor's cost
    import pyarrow.parquet as pq

    from exchange.contract.model import load_contract, read_suite

    contract = load_contract(CONTRACT)
    suite = read_suite(contract.suite_path, contract.path)
    start = time.perf_counter()
    table = pq.read_table(_file(state, f"{which}.parquet"))
    read = time.perf_counter()
    failed = [e["type"] for e in suite["expectations"] if not check(table, e["type"], e["kwargs"])]
    report(read=read - start, checks=time.perf_counter() - read, failed=failed)


def step_floor_protect(state: dict) -> None:
    """Protection's irreducible work on the same rows (the source's Parquet read is counted
    once, in the checks' floor): every identifier's bytes (one block each at least) through AES
    under two keys and written as hex (the 64 characters of a pseudonym), one count and one distinct count of
    the sensitive attribute per quasi-identifier class (the k-anonymity and l-diversity
    tests, for the classes as they are, no generalisation search), the rows shuffled, and
    the result written as Parquet the way publish writes it."""
    import binascii

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from exchange.contract.model import load_contract
    from exchange.protocol.outbound import ROW_GROUP

    rules = load_contract(CONTRACT).disclosure
    table = pq.read_table(_file(state, "source.parquet"))
    pa.default_memory_pool().release_unused()
    start = time.perf_counter()
    for name in rules["pseudonymise"]:
        ids = table[name].combine_chunks()
        data = ids.buffers()[2].to_pybytes()  # at least one 16-byte block per identifier, as CMAC's
        data += bytes(max(16 * len(ids) - len(data), -len(data) % 16))
        tags = [Cipher(algorithms.AES(os.urandom(32)), modes.ECB()).encryptor().update(data)  # noqa: S305
                for _ in range(2)]
        text = binascii.hexlify(tags[0] + tags[1])[: 64 * len(ids)]
        offsets = pa.py_buffer(np.arange(len(ids) + 1, dtype=np.int32) * 64)
        table = table.set_column(table.column_names.index(name), name,
                                 pa.Array.from_buffers(pa.string(), len(ids), [None, offsets, pa.py_buffer(text)]))
    qis, sensitive = rules["quasiIdentifiers"], rules.get("sensitiveAttributes", [])
    classes = table.group_by(qis).aggregate([([], "count_all"), *[(c, "count_distinct") for c in sensitive]])
    small = int(np.count_nonzero(classes["count_all"].to_numpy() < rules["k"]))
    table = table.take(np.random.default_rng(1).permutation(table.num_rows))
    pq.write_table(table, _file(state, "floor-protected.parquet"), row_group_size=ROW_GROUP, compression="zstd")
    report(seconds=time.perf_counter() - start, classes=classes.num_rows, small=small)


def step_floor_chacha(state: dict) -> None:
    """Read + seal 64 KiB chunks (timed); the sealed file is written aside (untimed) for boto3."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    cipher, nonce = ChaCha20Poly1305(os.urandom(32)), bytes(12)
    plain, sealed = memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK + 16))
    writing = 0.0
    src_path, dst_path = _file(state, "protected.parquet"), _file(state, "floor.sealed")
    with src_path.open("rb", buffering=0) as src, dst_path.open("wb") as dst:
        start = time.perf_counter()
        while size := src.readinto(plain):
            cipher.encrypt_into(nonce, plain[:size], None, sealed[: size + 16])
            mark = time.perf_counter()
            dst.write(sealed[: size + 16])
            writing += time.perf_counter() - mark
        total = time.perf_counter() - start
    report(seconds=total - writing)


def step_floor_upload(state: dict) -> None:
    client = _store(state, SENDER).client
    start = time.perf_counter()
    client.upload_file(str(_file(state, "floor.sealed")), BUCKET, FLOOR_KEY)
    report(seconds=time.perf_counter() - start)


def step_floor_download(state: dict) -> None:
    client = _store(state, RECIPIENT).client
    start = time.perf_counter()
    client.download_file(BUCKET, FLOOR_KEY, str(_file(state, "floor.download")))
    report(seconds=time.perf_counter() - start)


STEPS = {"generate": step_generate, "validate": step_validate, "protect": step_protect,
         "encrypt-upload": step_encrypt_upload, "download-decrypt": step_download_decrypt,
         "publish": step_publish, "pull": step_pull, "floor-checks": step_floor_checks,
         "floor-protect": step_floor_protect, "floor-chacha": step_floor_chacha, "floor-upload": step_floor_upload,
         "floor-download": step_floor_download}


# ---- the contract's checks written directly in pyarrow.compute ---------------------------

PANDAS_TYPES = {"StringDtype": ("string", "large_string"), "BooleanDtype": ("bool",),
                "Int64Dtype": ("int64", "int32"), "Float64Dtype": ("double", "float")}
CONDITION = re.compile(r"^(\w+)\s*==\s*(True|False|'[^']*'|\"[^\"]*\")$")


def _rows(table, kwargs: dict):
    """The rows a GX ``row_condition`` (``column == literal``) selects."""
    import pyarrow.compute as pc

    if not kwargs.get("row_condition"):
        return table
    match = CONDITION.match(kwargs["row_condition"].strip())
    if not match:
        raise SystemExit(f"floor: row_condition {kwargs['row_condition']!r} is not `column == literal`")
    literal = {"True": True, "False": False}.get(match[2], match[2][1:-1])
    return table.filter(pc.equal(table[match[1]], literal))


def check(table, expectation: str, kwargs: dict) -> bool:
    """One GX expectation of the suite, evaluated with pyarrow.compute alone."""
    import pyarrow as pa
    import pyarrow.compute as pc

    name = kwargs.get("column")
    rows = _rows(table, kwargs)
    column = rows[name] if name in rows.column_names else None
    if expectation == "expect_table_columns_to_match_set":
        have, want = set(table.column_names), set(kwargs["column_set"])
        return have == want if kwargs.get("exact_match", True) else want <= have
    if expectation == "expect_table_row_count_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        return (low is None or table.num_rows >= low) and (high is None or table.num_rows <= high)
    if column is None:
        return False
    valid = len(column) - column.null_count
    if expectation == "expect_column_to_exist":
        return True
    if expectation == "expect_column_values_to_be_in_type_list":
        return any(str(column.type) in PANDAS_TYPES.get(t, (t,)) for t in kwargs["type_list"])
    if expectation == "expect_column_values_to_not_be_null":
        return column.null_count == 0
    if expectation == "expect_column_values_to_match_regex":
        pattern = kwargs["regex"].replace("\\Z", "\\z")  # Python's end-of-string anchor in RE2
        return pc.sum(pc.invert(pc.match_substring_regex(column, pattern))).as_py() in (None, 0)
    if expectation == "expect_column_values_to_be_in_set":  # nulls are not in the set: discount them
        misses = pc.sum(pc.invert(pc.is_in(column, value_set=pa.array(kwargs["value_set"])))).as_py() or 0
        return misses - column.null_count == 0
    if expectation == "expect_column_values_to_be_unique":
        return pc.count_distinct(column, mode="only_valid").as_py() == valid
    if expectation == "expect_column_unique_value_count_to_be_between":
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        return kwargs.get("min_value", 0) <= distinct <= (kwargs.get("max_value") or distinct)
    if expectation == "expect_column_values_to_be_between":
        low, high = (v.as_py() for v in pc.min_max(column).values())
        floor, ceiling = kwargs.get("min_value"), kwargs.get("max_value")
        return low is None or ((floor is None or low >= floor) and (ceiling is None or high <= ceiling))
    if expectation == "expect_compound_columns_to_be_unique":
        keys = rows.select(kwargs["column_list"]).drop_null()
        return keys.group_by(kwargs["column_list"]).aggregate([]).num_rows == keys.num_rows
    raise SystemExit(f"floor: no pyarrow.compute form for {expectation}")


# ---- the parent: set up, run every step, print the tables ---------------------------------

def _setup(work: Path, rows: int):
    """Start SeaweedFS, provision THA and KHM; return the server and the children's state file."""
    from exchange.devkit.bootstrap import provision
    from exchange.devkit.seaweed import new_server

    for name in ("contracts", "expectations"):  # a snapshot: edits in the checkout cannot break the run
        shutil.copytree(ROOT / name, work / name)
        os.environ[f"GCMX_{name.upper()}"] = str(work / name)
    server = new_server(work / "s3", [SENDER, RECIPIENT], [(SENDER, RECIPIENT)]).start()
    homes = provision(work / "homes", [SENDER, RECIPIENT], [(SENDER, RECIPIENT)])
    state = {"work": str(work), "rows": rows, "endpoint": server.endpoint,
             "homes": {p: str(h) for p, h in homes.items()},
             "credentials": {p: [server.credentials[p].access_key_id, server.credentials[p].secret_access_key]
                             for p in (SENDER, RECIPIENT)}}
    path = work / "state.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(state))
    return server, path


def run_size(rows: int, directory: str | None) -> dict[str, Measured]:
    """Every step at one size, in the order the data flows; each in its own process."""
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="gcmx-bench-exchange-", dir=directory) as tmp:
        server, state = _setup(Path(tmp), rows)
        me = [sys.executable, __file__, "--child", str(state)]
        plan = [("generate",), ("floor-checks", "source"), ("validate", "source"), ("protect",),
                ("floor-protect",), ("floor-chacha",), ("encrypt-upload",), ("floor-upload",), ("download-decrypt",),
                ("floor-download",), ("floor-checks", "landed"), ("validate", "landed"),
                ("publish",), ("pull",)]
        done: dict[str, Measured] = {}
        try:
            for step in plan:
                print(f"  {rows:,} rows: {' '.join(step)} ...", file=sys.stderr, flush=True)
                done["-".join(step)] = run_measured([*me, *step])
        finally:
            server.stop()
    _sanity(done)
    return done


def fastest(runs: list[dict[str, Measured]]) -> dict[str, Measured]:
    """Each step's fastest measurement over whole runs (each run its own server and files):
    on a machine shared with other work, the minimum is the least disturbed."""
    return {step: min((run[step] for run in runs), key=lambda m: m.seconds) for step in runs[0]}


def _sanity(done: dict[str, Measured]) -> None:
    for step in ("floor-checks-source", "floor-checks-landed"):
        if done[step].report["failed"]:
            raise SystemExit(f"floor {step} found failures {done[step].report['failed']}: not comparable")
    if done["pull"].report["status"] != ["landed"] or not done["publish"].report["created"]:
        raise SystemExit(f"publish/pull did not complete: {done['pull'].report['status']}")
    if done["publish"].report["plaintext_sha256"] != done["protect"].report["sha256"]:
        print("note: publish streamed other plaintext bytes than the stage runs measured", file=sys.stderr)


def print_table(rows: int, done: dict[str, Measured]) -> list[str]:
    """The ratio table of one size; returns the goals it missed."""
    r = {name: m.report for name, m in done.items()}
    sec = {name: m.seconds for name, m in done.items()}
    check_src = r["floor-checks-source"]["read"] + r["floor-checks-source"]["checks"]
    check_dst = r["floor-checks-landed"]["read"] + r["floor-checks-landed"]["checks"]
    up_floor = sec["floor-chacha"] + sec["floor-upload"]
    down_floor = sec["floor-download"] + sec["floor-chacha"]
    lines = [  # stage, ours, floor, goal, measured step
        ("validation (sender, GX)", sec["validate-source"], check_src, None, "validate-source"),
        ("  of which GX set-up (per process)", r["validate-source"]["setup"], None, None, None),
        ("protection (pseudonyms, k-anon.)", sec["protect"], sec["floor-protect"], None, "protect"),
        ("  Parquet write of protected data", r["protect"]["serialise"], None, None, None),
        ("encrypt+upload", sec["encrypt-upload"], up_floor, TRANSFER_GOAL, "encrypt-upload"),
        ("publish total", sec["publish"], check_src + sec["floor-protect"] + up_floor, WHOLE_GOAL, "publish"),
        ("download+decrypt", sec["download-decrypt"], down_floor, TRANSFER_GOAL, "download-decrypt"),
        ("re-validation (recipient, GX)", sec["validate-landed"], check_dst, None, "validate-landed"),
        ("pull total", sec["pull"], down_floor + check_dst, WHOLE_GOAL, "pull"),
    ]
    mb = {name: r[step]["bytes"] / 1024 / 1024 for name, step in
          [("source", "generate"), ("protected", "protect"), ("ciphertext", "encrypt-upload")]}
    print(f"\nexchange benchmark: {rows:,} rows of {CONTRACT}; "
          + ", ".join(f"{name} {size:.0f} MB" for name, size in mb.items())
          + f"\n{'stage':<36} {'ours (s)':>9} {'floor (s)':>9} {'ratio':>6} {'peak RSS MB':>11}  goal")
    missed = []
    for stage, ours, floor, goal, step in lines:
        ratio = ours / floor if floor else None
        verdict = ""
        if goal is not None and ratio is not None:
            verdict = f"<= {goal}x " + ("met" if ratio <= goal else "MISSED")
            if ratio > goal:
                missed.append(f"{stage} at {rows:,} rows: {ratio:.2f}x > {goal}x")
        floor_text, ratio_text = (f"{floor:.2f}", f"{ratio:.2f}") if floor else ("-", "-")
        rss = f"{done[step].peak_rss_mb:.0f}" if step else "-"
        print(f"{stage:<36} {ours:>9.2f} {floor_text:>9} {ratio_text:>6} {rss:>11}  {verdict}")
    src, dst = "floor-checks-source", "floor-checks-landed"
    floors = [("Parquet read (source)", r[src]["read"], src),
              ("checks in pyarrow.compute (source)", r[src]["checks"], src),
              ("Parquet read (protected)", r[dst]["read"], dst),
              ("checks in pyarrow.compute (protected)", r[dst]["checks"], dst),
              ("protection: AES ids, class counts, shuffle, write", sec["floor-protect"], "floor-protect"),
              ("raw ChaCha20-Poly1305 64 KiB loop", sec["floor-chacha"], "floor-chacha"),
              ("boto3 upload_file", sec["floor-upload"], "floor-upload"),
              ("boto3 download_file", sec["floor-download"], "floor-download")]
    print(f"\n{'floor, on the same bytes':<40} {'seconds':>8} {'peak RSS MB':>11}")
    for label, seconds, step in floors:
        print(f"{label:<40} {seconds:>8.2f} {done[step].peak_rss_mb:>11.0f}")
    return missed


def print_rss_spread(sizes: list[int], runs: list[dict[str, Measured]]) -> list[str]:
    """Peak RSS of the transfer stages across sizes; goal: within 10% of each other."""
    missed = []
    print(f"\n{'peak RSS MB across sizes':<36} " + " ".join(f"{s:>12,}" for s in sizes) + "  spread  goal")
    for step in ("encrypt-upload", "download-decrypt"):
        peaks = [run[step].peak_rss_mb for run in runs]
        spread = max(peaks) / min(peaks) - 1
        ok = spread <= RSS_SPREAD_GOAL
        if not ok:
            missed.append(f"peak RSS of {step} varies {spread:.0%} across sizes")
        print(f"{step:<36} " + " ".join(f"{p:>12.0f}" for p in peaks)
              + f"  {spread:>6.1%}  <= 10% {'met' if ok else 'MISSED'}")
    return missed


def main() -> int:
    """Parse options, run the sizes asked for, print the tables; exit 1 if a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records in the dataset")
    parser.add_argument("--compare", help="comma-separated sizes, e.g. 1000000,10000000 (RSS check)")
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where files and the SeaweedFS data go (default /dev/shm)")
    parser.add_argument("--runs", type=int, default=1,
                        help="run everything R times and keep each step's fastest (a loaded machine)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        STEPS[args.child[1]](json.loads(Path(args.child[0]).read_text()), *args.child[2:])
        return 0
    sizes = [int(s) for s in args.compare.split(",")] if args.compare else [args.rows]
    runs = [fastest([run_size(rows, args.dir) for _ in range(args.runs)]) for rows in sizes]
    missed = [goal for rows, run in zip(sizes, runs, strict=True) for goal in print_table(rows, run)]
    if len(sizes) > 1:
        missed += print_rss_spread(sizes, runs)
    print("\ngoals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
