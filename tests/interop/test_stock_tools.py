"""A partner without gcmx opens an exchange with boto3, minisign, sha256sum and age alone.

These are exactly the commands the README documents.
"""

from __future__ import annotations

import json
import subprocess

import pyarrow.parquet as pq

from exchange.protocol.outbound import publish
from tests.support.protocol import dataset, make_nodes


def run(*args, **kwargs) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def test_partner_opens_an_exchange_with_stock_tools(seaweed, tmp_path):
    nodes = make_nodes(seaweed, tmp_path / "parties", classic=True)
    src = dataset("workers_deployed.khm-tha", tmp_path, period="2025-12")
    result = publish(nodes["KHM"], src, "workers_deployed.khm-tha", "2025-12")
    tha_home = nodes["THA"].home
    folder = tmp_path / "download"
    folder.mkdir()
    client = seaweed.client("THA")  # any S3 client with THA's credentials
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        client.download_file("khm-to-tha", f"{result.prefix}/{name}", str(folder / name))

    out = run("minisign", "-V", "-p", str(tha_home / "keyring" / "KHM.minisign.pub"),
              "-m", str(folder / "manifest.json"))
    assert "Signature and comment signature verified" in out and result.exchange_id in out
    manifest = json.loads((folder / "manifest.json").read_text())
    line = run("sha256sum", "data.parquet.age", cwd=folder)
    assert line.split()[0] == manifest["ciphertext"]["sha256"]
    run("age", "-d", "-i", str(tha_home / "keys" / "THA.age"), "-o", str(folder / "data.parquet"),
        str(folder / "data.parquet.age"))
    assert run("sha256sum", "data.parquet", cwd=folder).split()[0] == manifest["plaintext"]["sha256"]
    assert pq.read_table(folder / "data.parquet").num_rows == manifest["rows"]
