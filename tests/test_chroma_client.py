"""The Chroma server client's transport, against a real HTTP/1.1 server on 127.0.0.1 that closes a kept-alive
connection the moment a request arrives on it (what a server's keep-alive timeout does to a request sent in the
same instant). No model and no Chroma: the fast tier."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from rag.chroma_client import RetryStale

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}"


@contextlib.contextmanager
def closing_server(answers_per_connection: int) -> Iterator[tuple[int, list[int]]]:
    """Each connection gets `answers_per_connection` answers; the next request on it is read and the connection
    closed without a response. Yields (port, requests seen per connection)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[int] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            seen.append(0)
            me = len(seen) - 1
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                seen[me] += 1
                if seen[me] > answers_per_connection:
                    return  # closed with no response
                conn.sendall(OK)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        listener.close()


def test_a_request_on_a_connection_the_server_just_closed_is_sent_again_once() -> None:
    with closing_server(answers_per_connection=1) as (port, seen):
        url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
        plain = httpx.Client()
        assert plain.get(url).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            plain.get(url)  # the bare client: the reused connection fails the request
        hardened = httpx.Client()
        hardened._transport = RetryStale(hardened._transport)
        assert [hardened.get(url).status_code for _ in range(3)] == [200, 200, 200]
        assert seen[-3:] == [2, 2, 1]  # each reused connection's request went again on a new one


def test_a_server_that_never_answers_fails_after_one_retry() -> None:
    with closing_server(answers_per_connection=0) as (port, seen):
        client = httpx.Client()
        client._transport = RetryStale(client._transport)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        assert seen == [1, 1]  # sent twice, not more
