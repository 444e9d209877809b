"""``pipeline deliveries``: the outbox of webhooks and emails, its runner and its log."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.domain.outbox import DELIVERY_STATES, DeliverySettings
from pipeline_core.render.common import Format
from pipeline_core.render.outbox import deliveries_output


@click.group()
def deliveries() -> None:
    """The outbox: webhooks and emails written with their cause, sent by a runner."""


@deliveries.command("run")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most this many.")
@click.option(
    "--lease",
    type=click.FloatRange(min=0.1),
    default=300.0,
    show_default=True,
    help="Seconds a claimed delivery stays with this runner (a killed runner's are retried after).",
)
@pass_app
def deliveries_run(app: AppContext, limit: int | None, lease: float) -> None:
    """Send every due delivery once; failures are retried later with backoff."""
    report = app.workspace.deliveries.run(limit=limit, lease=timedelta(seconds=lease))
    click.echo(f"delivered {report.delivered}, to retry {report.retried}, failed {report.failed}")


@deliveries.command("list")
@click.option("--state", type=click.Choice(DELIVERY_STATES), help="Only deliveries in this state.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N.")
@format_option()
@pass_app
def deliveries_list(app: AppContext, state: str | None, limit: int | None, fmt: Format) -> None:
    """The delivery log, newest first."""
    workspace = app.workspace
    found = workspace.deliveries.list(state=state, limit=limit)  # type: ignore[arg-type]
    echo(deliveries_output(found, fmt, workspace.settings.show().zone))


@deliveries.command("retry")
@click.argument("delivery_id", type=int, metavar="ID")
@pass_app
def deliveries_retry(app: AppContext, delivery_id: int) -> None:
    """Send delivery ID again at the next run (a failed one gets a fresh count of attempts)."""
    app.workspace.deliveries.retry(delivery_id)
    click.echo(f"Delivery {delivery_id} will be sent at the next run")


def describe(settings: DeliverySettings) -> str:
    """The settings as lines, the webhook secret only as set or not."""
    secret = "set" if settings.webhook_secret else "not set"
    smtp = settings.smtp_host or "(none)"
    tls = "STARTTLS" if settings.smtp_starttls else "no TLS"
    credentials = (
        f"user from ${settings.smtp_user_env}, password from ${settings.smtp_password_env}"
        if settings.smtp_user_env
        else "no login"
    )
    return (
        f"webhook secret: {secret}\n"
        f"smtp: {smtp}:{settings.smtp_port} ({tls}; {credentials}); from {settings.sender}\n"
        f"timeout {settings.timeout:g}s, {settings.max_attempts} attempts,"
        f" backoff from {settings.backoff:g}s up to {settings.max_backoff:g}s\n"
    )


@deliveries.command("configure")
@click.option("--new-secret", is_flag=True, help="Make a new random webhook secret (not shown).")
@click.option("--secret-env", metavar="VAR", help="Take the webhook secret from env var VAR.")
@click.option("--smtp-host", help="SMTP server host.")
@click.option("--smtp-port", type=int, help="SMTP server port.")
@click.option("--starttls/--no-starttls", default=None, help="Upgrade the SMTP connection.")
@click.option("--smtp-user-env", metavar="VAR", help="Env var holding the SMTP user name.")
@click.option("--smtp-password-env", metavar="VAR", help="Env var holding the SMTP password.")
@click.option("--sender", help="From address of emails.")
@click.option("--timeout", type=click.FloatRange(min=0.1), help="Seconds per attempt.")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Attempts before giving up.")
@click.option("--backoff", type=click.FloatRange(min=0.1), help="First wait before a retry (s).")
@pass_app
def deliveries_configure(
    app: AppContext,
    new_secret: bool,
    secret_env: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    starttls: bool | None,
    smtp_user_env: str | None,
    smtp_password_env: str | None,
    sender: str | None,
    timeout: float | None,
    max_attempts: int | None,
    backoff: float | None,
) -> None:
    """Set the webhook secret, SMTP server and retries; show them (never the secret)."""
    changes: dict[str, Any] = {
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "smtp_starttls": starttls,
        "smtp_user_env": smtp_user_env,
        "smtp_password_env": smtp_password_env,
        "sender": sender,
        "timeout": timeout,
        "max_attempts": max_attempts,
        "backoff": backoff,
    }
    if new_secret:
        changes["webhook_secret"] = secrets.token_hex(32)
    if secret_env is not None:
        value = os.environ.get(secret_env, "")
        if not value:
            raise click.ClickException(f"environment variable {secret_env} is not set or empty")
        changes["webhook_secret"] = value
    given = {key: value for key, value in changes.items() if value is not None}
    workspace = app.workspace
    settings = workspace.deliveries.configure(**given) if given else workspace.deliveries.settings()
    click.echo(describe(settings), nl=False)
