"""Alerts: a failed run, or records that failed, notify through the `ihost.notifiers` group.

    [alerts]
    notify = ["log", "webhook", "email"]
    webhook_url = "https://hooks.example.com/ihost"
    email_to = ["ops@example.com"]
    email_from = "ihost@example.com"
    smtp_host = "smtp.example.com"
    smtp_port = 587
    smtp_user = "ihost"
    smtp_password = "${SMTP_PASSWORD}"
    smtp_starttls = true

An alert names the flow, the run, its status, its counts and its error line (e-mail
addresses blanked): never a record's contents. A notifier that fails is logged; it never
stops the daemon.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from host.report import Report
from host.secrets import scrub

log = logging.getLogger("host.alerts")


class AlertSettings(BaseModel):
    """The `[alerts]` table."""

    model_config = ConfigDict(extra="forbid")

    notify: list[str] = Field(default_factory=lambda: ["log"])
    webhook_url: str | None = None
    email_to: list[str] = Field(default_factory=list)
    email_from: str = "ihost@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False


def alert_for(report: Report) -> dict[str, Any] | None:
    """The alert a run's report calls for, or None when all went well."""
    failed = report.counts.get("failed", 0)
    if report.status in ("ok", "stopped") and not failed:
        return None
    return {
        "flow": report.flow,
        "run_id": report.run_id,
        "status": report.status,
        "counts": dict(report.counts),
        "failed_records": failed,
        "error": scrub(report.error) if report.error else None,
    }


def _subject(alert: dict[str, Any]) -> str:
    if alert["status"] in ("aborted", "failed") and alert["error"]:
        return f"ihost: {alert['flow']} {alert['status']}: {alert['error']}"
    return (
        f"ihost: {alert['flow']}: {alert['failed_records']} records failed (run {alert['run_id']})"
    )


class LogNotifier:
    """Writes the alert to the daemon's log."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def notify(self, alert: dict[str, Any]) -> None:
        log.warning("%s", _subject(alert))


class WebhookNotifier:
    """POSTs the alert as JSON to `webhook_url`."""

    def __init__(self, settings: AlertSettings) -> None:
        if not settings.webhook_url:
            raise ValueError("the webhook notifier needs webhook_url")
        self.url = settings.webhook_url

    def notify(self, alert: dict[str, Any]) -> None:
        httpx.post(self.url, json={"text": _subject(alert), **alert}, timeout=10).raise_for_status()


class EmailNotifier:
    """Sends the alert by e-mail over SMTP."""

    def __init__(self, settings: AlertSettings) -> None:
        if not settings.email_to:
            raise ValueError("the email notifier needs email_to")
        self.settings = settings

    def notify(self, alert: dict[str, Any]) -> None:
        s = self.settings
        message = EmailMessage()
        message["Subject"] = _subject(alert)
        message["From"] = s.email_from
        message["To"] = ", ".join(s.email_to)
        counts = ", ".join(f"{k} {v}" for k, v in alert["counts"].items())
        message.set_content(
            f"{_subject(alert)}\n\nflow: {alert['flow']}\nrun: {alert['run_id']}\n"
            f"status: {alert['status']}\ncounts: {counts}\n"
        )
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user and s.smtp_password:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
            smtp.send_message(message)


def notifier_classes() -> dict[str, Any]:
    """The notifiers of the `ihost.notifiers` group, by name."""
    from host.plugins import NOTIFIER_GROUP, load_group

    return load_group(NOTIFIER_GROUP)


class Alerts:
    """The configured notifiers; `send` never raises."""

    def __init__(self, settings: AlertSettings) -> None:
        classes = notifier_classes()
        self.notifiers = [(name, classes[name](settings)) for name in settings.notify]

    def send(self, alert: dict[str, Any]) -> None:
        for name, notifier in self.notifiers:
            try:
                notifier.notify(alert)
            except Exception as exc:
                log.error("the %s notifier failed: %s: %s", name, type(exc).__name__, exc)
