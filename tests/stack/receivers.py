"""Real receivers on loopback for the alerts: an SMTP server (aiosmtpd) and an
HTTP server that catches webhook posts. Each keeps what arrived, in order."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class Mailbox:
    """Every message the SMTP server accepted: (subject, text of the body)."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[tuple[str, str]] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("html", "plain"))
        self.messages.append((str(message["Subject"]), body.get_content() if body else ""))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class Webhook(ThreadingHTTPServer):
    """Every JSON body POSTed to it."""

    def __init__(self):
        self.posts: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N802, N805 - http.server's names
                length = int(handler.headers.get("Content-Length", 0))
                self.posts.append(json.loads(handler.rfile.read(length) or b"{}"))
                handler.send_response(200)
                handler.end_headers()
                handler.wfile.write(b"ok")

            def log_message(handler, *args):  # noqa: N805 - quiet
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/tweetbot"

    def texts(self) -> list[str]:
        return [post.get("text", "") for post in self.posts]


@contextlib.contextmanager
def receivers(smtp_port: int):
    mailbox = Mailbox(smtp_port)
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    webhook = Webhook()
    thread = threading.Thread(target=webhook.serve_forever, daemon=True)
    thread.start()
    try:
        yield mailbox, webhook
    finally:
        webhook.shutdown()
        webhook.server_close()
        smtp.stop()
