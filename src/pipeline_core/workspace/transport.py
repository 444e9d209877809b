"""Sending a claimed delivery: an HTTP POST or an SMTP message, outside any transaction.

Every failure becomes an ``Outcome`` naming what went wrong and whether a retry can
help: a refused request (4xx but 408 and 429) or a refused recipient will not get
better by waiting, while a timeout, a refused connection or a 5xx may.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage

from pipeline_core.domain.outbox import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Delivery,
    DeliverySettings,
    signature,
    webhook_body,
)
from pipeline_core.workspace.outbox import Outcome

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""4xx answers that mean "later", not "never"."""


def send(delivery: Delivery, settings: DeliverySettings, env: Mapping[str, str]) -> Outcome:
    """Attempt one delivery once."""
    if delivery.channel == "webhook":
        return post_webhook(delivery, settings)
    return send_email(delivery, settings, env)


def post_webhook(delivery: Delivery, settings: DeliverySettings) -> Outcome:
    """POST the signed body; delivered on a 2xx answer."""
    if not settings.webhook_secret:
        return Outcome(
            False, "no webhook secret is set: 'pipeline deliveries configure --new-secret'", True
        )
    request = webhook_request(delivery, settings.webhook_secret)
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            response.read()
            return Outcome(True)
    except urllib.error.HTTPError as error:
        permanent = 400 <= error.code < 500 and error.code not in RETRYABLE_STATUSES
        return Outcome(False, f"HTTP {error.code} {error.reason}", permanent)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Outcome(False, f"cannot reach {delivery.target}: {reason}")


def webhook_request(delivery: Delivery, secret: str) -> urllib.request.Request:
    """The POST of a webhook delivery: its body, signed with ``secret``, and its headers."""
    body = webhook_body(delivery)
    return urllib.request.Request(
        delivery.target,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "pipeline_core",
            SIGNATURE_HEADER: signature(secret, body),
            DELIVERY_HEADER: str(delivery.id),
            "X-Pipeline-Event": _event_kind(delivery),
        },
    )


def _event_kind(delivery: Delivery) -> str:
    event = delivery.payload.get("event")
    kind = event.get("kind") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else "manual"


def send_email(delivery: Delivery, settings: DeliverySettings, env: Mapping[str, str]) -> Outcome:
    """Send the message through the workspace's SMTP server."""
    if not settings.smtp_host:
        return Outcome(
            False, "no SMTP host is set: 'pipeline deliveries configure --smtp-host'", True
        )
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = delivery.target
    message["Subject"] = str(delivery.payload.get("subject", ""))
    message["Message-ID"] = f"<delivery-{delivery.id}@pipeline_core>"
    message.set_content(str(delivery.payload.get("body", "")))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            user = env.get(settings.smtp_user_env, "") if settings.smtp_user_env else ""
            if user:
                smtp.login(user, env.get(settings.smtp_password_env, ""))
            smtp.send_message(message)
        return Outcome(True)
    except smtplib.SMTPRecipientsRefused as error:
        return Outcome(False, f"recipient refused: {delivery.target} ({error.recipients})", True)
    except smtplib.SMTPResponseException as error:
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        return Outcome(False, f"SMTP {error.smtp_code} {text}", 500 <= error.smtp_code < 600)
    except (smtplib.SMTPException, OSError) as error:
        return Outcome(
            False, f"cannot send through {settings.smtp_host}:{settings.smtp_port}: {error}"
        )


def environment() -> Mapping[str, str]:
    """Where SMTP credentials are read from."""
    return os.environ
