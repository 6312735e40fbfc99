"""Benchmark of the age layer against the raw cipher loop, the age CLI and cat.

Usage: .venv/bin/python bench/crypto.py [--size-mb N] [--repeat R] [--dir DIR]

Every contender runs in its own process on the same file (best of R runs); the
peak RSS of our encrypt/decrypt comes from os.wait4 on that process. Output
files go to DIR (default /dev/shm when present, so disk noise does not dominate).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024


def _child(mode: str, src: str, dst: str, key: str) -> None:
    """Run one measured operation in this (child) process and print its seconds."""
    sys.path.insert(0, str(ROOT))
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    from exchange.crypto import age

    start = time.perf_counter()
    if mode == "encrypt":
        with open(src, "rb") as s, open(dst, "wb") as d, age.encryptor(d, [key]) as sealed:
            shutil.copyfileobj(s, sealed, 1 << 20)
    elif mode == "decrypt":
        with open(src, "rb") as s, open(dst, "wb") as d:
            shutil.copyfileobj(age.decryptor(s, [key]), d, 1 << 20)
    else:
        cipher = ChaCha20Poly1305(os.urandom(32))
        nonce = bytearray(12)
        plain = memoryview(bytearray(CHUNK))
        sealed = memoryview(bytearray(CHUNK + 16))
        if mode == "raw-memory":
            for _ in range(os.path.getsize(src) // CHUNK):
                cipher.encrypt_into(nonce, plain, None, sealed)
        else:  # raw-file: the same cipher loop with the same file I/O as ours
            with open(src, "rb", buffering=0) as s, open(dst, "wb") as d:
                while size := s.readinto(plain):
                    cipher.encrypt_into(nonce, plain[:size], None, sealed[: size + 16])
                    d.write(sealed[: size + 16])
    print(time.perf_counter() - start)


def _run(argv: list[str], stdout_file: str | None = None) -> tuple[float, float]:
    """Run argv; return (seconds, peak RSS in MB). Seconds come from the child if it prints."""
    out = open(stdout_file, "wb") if stdout_file else subprocess.PIPE  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=out, stdin=subprocess.DEVNULL)  # noqa: S603
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    printed = b"" if stdout_file else proc.stdout.read()  # type: ignore[union-attr]
    if stdout_file:
        out.close()  # type: ignore[union-attr]
    if proc.returncode:
        raise SystemExit(f"benchmark step failed: {argv[0]} {argv[1:3]}")
    seconds = float(printed) if printed.strip() else wall
    return seconds, usage.ru_maxrss / 1024


def _round_robin(
    contenders: dict[str, tuple[list[str], str | None]], repeat: int
) -> dict[str, tuple[float, float]]:
    """Run every contender once per round (fair under changing load); keep the best time
    and the highest peak RSS of each."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):
        for name, (argv, stdout_file) in contenders.items():
            seconds, rss = _run(argv, stdout_file)
            old = best.get(name, (seconds, rss))
            best[name] = (min(old[0], seconds), max(old[1], rss))
    return best


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    """Parse options, run every contender, print the ratio table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)

    sys.path.insert(0, str(ROOT))
    from exchange.crypto import age

    for tool in ("age", "cat"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed: run `make tools`")
    me = [sys.executable, __file__, "--child"]
    with tempfile.TemporaryDirectory(prefix="gcmx-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        plain, sealed, opened = work / "plain", work / "plain.age", work / "plain.out"
        with open(plain, "wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(1 << 20))
        identity = age.generate_identity(post_quantum=False)
        recipient = age.to_recipient(identity)
        (work / "key.txt").write_text(age.format_identity_file(identity))
        size, r = args.size_mb, args.repeat
        contenders = {
            "enc": ([*me, "encrypt", str(plain), str(sealed), recipient], None),
            "dec": ([*me, "decrypt", str(sealed), str(opened), identity], None),
            "age_enc": (["age", "-r", recipient, "-o", str(work / "cli.age"), str(plain)], None),
            "age_dec": (
                ["age", "-d", "-i", str(work / "key.txt"), "-o", str(work / "cli.out"),
                 str(sealed)],
                None,
            ),
            "raw": ([*me, "raw-file", str(plain), str(work / "raw.out"), "-"], None),
            "raw_mem": ([*me, "raw-memory", str(plain), "-", "-"], None),
            "cat": (["cat", str(plain)], str(work / "cat.out")),
        }
        results = _round_robin(contenders, r)
        if _sha256(plain) != _sha256(opened):
            raise SystemExit("round trip mismatch")
        (enc, enc_rss), (dec, dec_rss) = results["enc"], results["dec"]
        age_enc, age_dec = results["age_enc"][0], results["age_dec"][0]
        raw, raw_mem, cat = results["raw"][0], results["raw_mem"][0], results["cat"][0]

    rate = {name: size / seconds for name, seconds in [
        ("ours encrypt", enc), ("ours decrypt", dec), ("age CLI encrypt", age_enc),
        ("age CLI decrypt", age_dec), ("raw ChaCha20-Poly1305 loop, file I/O", raw),
        ("raw ChaCha20-Poly1305 loop, in memory", raw_mem), ("cat", cat),
    ]}
    print(f"\nage benchmark: {size} MB file, best of {r}, output in {args.dir or 'TMPDIR'}\n")
    print(f"{'what':<40} {'MB/s':>8}")
    for name, value in rate.items():
        print(f"{name:<40} {value:>8.0f}")
    raw_rate, mem_rate = rate["raw ChaCha20-Poly1305 loop, file I/O"], size / raw_mem
    print(f"\n{'ratio':<40} {'encrypt':>8} {'decrypt':>8}")
    for label, base_enc, base_dec in [
        ("ours / raw loop (file I/O)", raw_rate, raw_rate),
        ("ours / raw loop (in memory)", mem_rate, mem_rate),
        ("ours / age CLI", rate["age CLI encrypt"], rate["age CLI decrypt"]),
    ]:
        print(f"{label:<40} {rate['ours encrypt'] / base_enc:>8.2f} "
              f"{rate['ours decrypt'] / base_dec:>8.2f}")
    print(f"\n{'peak RSS (MB)':<40} {enc_rss:>8.1f} {dec_rss:>8.1f}")
    return None


if __name__ == "__main__":
    main()
