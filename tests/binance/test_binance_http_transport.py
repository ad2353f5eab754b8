"""RequestsTransport over real local sockets: exact bytes on the wire, and connection failures
split into "nothing was sent" (TransientError) and "may have executed" (OutcomeUnknown)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

from planrunner.errors import OutcomeUnknown, TransientError
from planrunner.exchanges.http import RequestsTransport


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@contextmanager
def _server(handle: Callable[[socket.socket, bytes], None]) -> Iterator[tuple[str, list[bytes]]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received: list[bytes] = []
    done = threading.Event()

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            request = _read_request(conn)
            received.append(request)
            handle(conn, request)
            done.wait(5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        done.set()
        thread.join(5)
        listener.close()


@contextmanager
def _transport() -> Iterator[RequestsTransport]:
    session = requests.Session()
    try:
        yield RequestsTransport(session)
    finally:
        session.close()


def _reply(conn: socket.socket, request: bytes) -> None:
    body = b'{"serverTime": 1}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-MBX-USED-WEIGHT-1M: 3\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)


def test_sends_exactly_the_given_bytes_and_returns_the_response() -> None:
    query = "symbol=%EF%BC%91%EF%BC%92&symbols=%5B%22A%22%2C%22B%22%5D&signature=ab%2Bc%2F%3D"
    body = b"symbol=BTCUSDT&price=0.1&signature=x%2By%3D"
    with _server(_reply) as (base, received), _transport() as transport:
        response = transport.send("POST", f"{base}/api/v3/order?{query}",
                                  headers={"X-MBX-APIKEY": "k"}, body=body, timeout=5)
    assert response.status == 200 and response.body == b'{"serverTime": 1}'
    assert response.header("x-mbx-used-weight-1m") == "3"
    request_line = received[0].split(b"\r\n", 1)[0].decode()
    assert request_line == f"POST /api/v3/order?{query} HTTP/1.1"
    assert received[0].endswith(b"\r\n\r\n" + body)


def test_connection_refused_is_transient_nothing_sent() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with _transport() as transport, pytest.raises(TransientError, match="nothing was sent") as info:
        transport.send("POST", f"http://127.0.0.1:{port}/api/v3/order?signature=SECRETSIG",
                       headers={}, body=b"a=1", timeout=2)
    assert not isinstance(info.value, OutcomeUnknown)
    assert "SECRETSIG" not in str(info.value)


def test_timeout_after_sending_is_outcome_unknown() -> None:
    with _server(lambda conn, request: None) as (base, received), _transport() as transport:
        with pytest.raises(OutcomeUnknown, match="timed out") as info:
            transport.send("POST", f"{base}/api/v3/order?signature=SECRETSIG", headers={},
                           body=b"a=1", timeout=0.2)
    assert received and "SECRETSIG" not in str(info.value)


def test_connection_dropped_after_sending_is_outcome_unknown() -> None:
    def drop(conn: socket.socket, request: bytes) -> None:
        conn.shutdown(socket.SHUT_RDWR)

    with _server(drop) as (base, received), _transport() as transport:
        with pytest.raises(OutcomeUnknown, match="may have been executed"):
            transport.send("DELETE", f"{base}/api/v3/order?x=1", headers={}, body=None, timeout=2)
    assert received
