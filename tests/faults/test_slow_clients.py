"""Clients that drip their request a byte at a time must not take the service down.

Against the real gunicorn that `make start` runs (config/gunicorn_conf.py). Each
slow client sends one byte every half second and never finishes; meanwhile
/healthz must answer promptly, every time.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.support.servers import get, gunicorn

pytestmark = pytest.mark.faults

SLOW_CLIENTS = 8
"""Twice the four that made every sync worker of the former `make start` busy."""
REQUEST = b"POST /sms/twilio/inbound HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"


def drip(port: int, stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        for byte in REQUEST * 10:
            if stop.wait(0.5):
                return
            try:
                client.sendall(bytes([byte]))
            except OSError:
                return


def test_healthz_answers_while_slow_clients_drip(database_url: str) -> None:
    with gunicorn(database_url) as port:
        stop = threading.Event()
        clients = [
            threading.Thread(target=drip, args=(port, stop), daemon=True)
            for _ in range(SLOW_CLIENTS)
        ]
        for client in clients:
            client.start()
        try:
            time.sleep(1.5)  # every slow client connected and mid-request
            statuses = []
            for _ in range(5):
                statuses.append(get(port, "/healthz", timeout=3))
                time.sleep(0.5)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=5)
    assert statuses == [200] * 5
