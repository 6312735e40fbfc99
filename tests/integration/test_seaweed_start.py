"""The test server survives a port taken between choosing it and binding it."""

from __future__ import annotations

import socket

from exchange.devkit.seaweed import _ephemeral_low, free_port, new_server


def test_ports_are_chosen_below_the_ephemeral_range():
    assert all(10000 <= free_port() < max(_ephemeral_low(), 12000) for _ in range(20))


def test_a_port_taken_before_the_first_start_means_fresh_ports(tmp_path):
    server = new_server(tmp_path, ["KHM", "THA"], [("KHM", "THA")])
    first = server.endpoint
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", server.ports["filer.port"]))
        blocker.listen()
        server.start()
        try:
            assert server.endpoint != first and server.started
            server.client("KHM").put_object(Bucket="khm-to-tha", Key="probe", Body=b"ok")
        finally:
            server.stop()
