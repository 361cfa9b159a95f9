"""The production recipe (docs/deployment.md, "Behind nginx"): under 100 slow clients,
and in its access logs.

gunicorn as deployed (config/gunicorn_conf.py, `HUZHU_ENV=production`,
`TRUSTED_PROXY_COUNT=1`) behind nginx with the repository's configuration
(config/nginx.conf, filled in by scripts/nginx-conf). 100 clients each send a header
byte every 2 s, more than gunicorn has threads; meanwhile a signed urgent SMS sent
through nginx gets its reply within 5 s, and /healthz answers. Neither nginx's nor
gunicorn's access log names a mainland push route with its secret path segment.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.app import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.support.county import build_county
from tests.support.servers import ROOT, free_port, get, gunicorn
from tests.support.webhooks import INBOUND, signature_for, twilio_form

pytestmark = pytest.mark.faults

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None
)
SLOW_CLIENTS = 100
DRIP_SECONDS = 2.0
REPLY_WITHIN = 5.0
HEADER = b"POST /sms/twilio/inbound HTTP/1.1\r\nHost: huzhu.example.org\r\nContent-Length: 100\r\n"


@contextmanager
def nginx(prefix: Path, upstream_port: int) -> Iterator[int]:
    """nginx with config/nginx.conf in front of `upstream_port`; yields its port once
    /healthz answers through it."""
    port = free_port()
    rendered = subprocess.run(
        [
            str(ROOT / "scripts" / "nginx-conf"),
            str(prefix),
            f"127.0.0.1:{port}",
            f"127.0.0.1:{upstream_port}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    config = prefix / "nginx.conf"
    config.write_text(rendered, "utf-8")
    process = subprocess.Popen(
        [str(NGINX), "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if get(port, "/healthz", timeout=1) == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = prefix / "error.log"
                errors = log.read_text("utf-8") if log.exists() else ""
                raise RuntimeError(f"nginx did not start: {errors}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drip(port: int, stop: threading.Event, connected: list[int]) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            connected.append(1)
            for byte in HEADER * 10:
                client.sendall(bytes([byte]))
                if stop.wait(DRIP_SECONDS):
                    return
    except OSError:
        return  # dropped by nginx's header timeout: what it is for


def post_signed(port: int, form: dict[str, str]) -> tuple[int, str]:
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            INBOUND,
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Host": "huzhu.example.org",
                "X-Twilio-Signature": signature_for(form),
            },
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


NOT_INSTALLED = "nginx is not installed (`make test` installs Debian's nginx-light)"


@pytest.mark.skipif(NGINX is None, reason=NOT_INSTALLED)
def test_an_urgent_sms_through_nginx_is_answered_while_100_clients_drip(
    database_url: str, db: Any, tmp_path: Path
) -> None:
    county = build_county(db)
    production = {
        "HUZHU_ENV": "production",
        "SECRET_KEY": "k" * 16 + "production-test-key-x" * 2,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "TRUSTED_PROXY_COUNT": "1",
        "INBOUND_SPOOL_DIR": str(tmp_path / "spool"),
    }
    with (
        gunicorn(database_url, **production) as upstream,
        nginx(tmp_path / "nginx", upstream) as port,
    ):
        stop = threading.Event()
        connected: list[int] = []
        clients = [
            threading.Thread(target=drip, args=(port, stop, connected), daemon=True)
            for _ in range(SLOW_CLIENTS)
        ]
        for client in clients:
            client.start()
        try:
            time.sleep(2 * DRIP_SECONDS + 1)  # every slow client connected and mid-header
            assert len(connected) == SLOW_CLIENTS
            form = twilio_form(county.zh.coordinator.phone, "急 5 胸痛")  # type: ignore[arg-type]
            started = time.monotonic()
            status, body = post_signed(port, form)
            elapsed = time.monotonic() - started
            print(f"urgent SMS answered through nginx in {elapsed:.2f} s with 100 slow clients")
            assert status == 200, body
            [message] = ElementTree.fromstring(body).findall("Message")
            assert message.text and "5号胸痛" in message.text
            assert elapsed < REPLY_WITHIN
            assert get(port, "/healthz", timeout=REPLY_WITHIN) == 200
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=5)


def post_json(port: int, path: str, items: list[dict[str, Any]]) -> int:
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(items),
            headers={"Content-Type": "application/json", "Host": "huzhu.example.org"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.skipif(NGINX is None, reason=NOT_INSTALLED)
def test_neither_access_log_of_the_recipe_holds_the_push_secret(
    database_url: str, db: Any, tmp_path: Path
) -> None:
    county = build_county(db)
    secret = "push-secret-Q7v2Lm9xR4tW8zK3"
    aliyun = {
        "SMS_BACKEND": "aliyun",
        "ALIYUN_ACCESS_KEY_ID": "LTAI-test",
        "ALIYUN_ACCESS_KEY_SECRET": "aliyun-secret",
        "ALIYUN_SMS_SIGN_NAME": "介休卫健",
        "SMS_CALLBACK_SECRET": secret,
        "TRUSTED_PROXY_COUNT": "1",
        "INBOUND_SPOOL_DIR": str(tmp_path / "spool"),
    }
    gunicorn_log = tmp_path / "gunicorn-access.log"
    item = {
        "phone_number": county.zh.coordinator.phone.removeprefix("+86"),  # type: ignore[union-attr]
        "content": "好",
        "send_time": "2026-11-26 10:00:00",
        "dest_code": "1234",
        "sequence_id": 1,
    }
    with (
        gunicorn(database_url, "--access-logfile", str(gunicorn_log), **aliyun) as upstream,
        nginx(tmp_path / "nginx", upstream) as port,
    ):
        assert post_json(port, f"/sms/aliyun/{secret}/up", [item]) == 200
        assert post_json(port, f"/sms/aliyun/{secret}/report", []) == 200
        assert post_json(port, f"/sms/tencent/{secret}/reply", []) == 404
    # nginx writes its log line when the request ends; gunicorn's is flushed on exit.
    for log in (gunicorn_log, tmp_path / "nginx" / "access.log"):
        text = log.read_text("utf-8")
        assert "/sms/aliyun/***/up" in text, text
        assert "/sms/aliyun/***/report" in text, text
        assert "/sms/tencent/***/reply" in text, text
        assert secret not in text, text
