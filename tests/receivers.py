"""Real local receivers for the outbox tests: an HTTP server and an SMTP server on 127.0.0.1.

The HTTP receiver fails the first N requests (503), then accepts (200); it records every
request's body and headers, and which deliveries it accepted, so a test can check the
signature, the body, and that each delivery was accepted exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from pipeline_core.domain.automation import Action, Automation
from pipeline_core.domain.events import EventKind


def webhook_automation(url: str, name: str = "hook", rule: str = "true") -> Automation:
    """An automation POSTing every ``reminder_due`` event (of customers matching ``rule``)."""
    return Automation(
        name=name,
        on=EventKind.REMINDER_DUE,
        rule=rule,
        actions=(Action(kind="webhook", value=url),),
    )


@attrs.define
class Receiver:
    """What the HTTP receiver saw and how it answers."""

    fail_first: int = 0
    fail_status: int = 503
    hang_after: int | None = None
    """Accept this many, then hold every later request until ``release`` is set."""
    requests: list[tuple[dict[str, str], bytes]] = attrs.Factory(list)
    accepted: Counter[str] = attrs.Factory(Counter)
    release: threading.Event = attrs.Factory(threading.Event)
    lock: threading.Lock = attrs.Factory(threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append((headers, body))
            if len(self.requests) <= self.fail_first:
                return self.fail_status
            if self.hang_after is not None and sum(self.accepted.values()) >= self.hang_after:
                hang = True
            else:
                hang = False
                self.accepted[headers.get("X-Pipeline-Delivery", "?")] += 1
        if hang:
            self.release.wait(30)
            return 503
        return 200


@contextmanager
def http_receiver(**options: Any) -> Iterator[Receiver]:
    """A receiver serving on 127.0.0.1 (a free port) for the block's duration."""
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@attrs.define
class Mailbox:
    """The messages the SMTP server received."""

    messages: list[Message] = attrs.Factory(list)
    envelopes: list[tuple[str, list[str]]] = attrs.Factory(list)
    port: int = 0


@contextmanager
def smtp_receiver(login: tuple[str, str] | None = None) -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1 (a free port) for the block's duration.

    With ``login`` it refuses mail from a client that did not log in with that user
    and password (plain AUTH without TLS: a test server on the loopback only).
    """
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        given = (
            (data.login.decode(), data.password.decode())
            if isinstance(data, LoginPassword)
            else None
        )
        return AuthResult(success=given == login, handled=False)

    mailbox = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd calls it by this name
            mailbox.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            mailbox.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth: dict[str, Any] = (
        {}
        if login is None
        else {"auth_required": True, "auth_require_tls": False, "authenticator": authenticate}
    )
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **auth)
    controller.start()
    mailbox.port = port
    try:
        yield mailbox
    finally:
        controller.stop()
