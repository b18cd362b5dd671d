"""Configuration of the notifications service, from the environment."""

from __future__ import annotations

from crmkit.auth import AuthSettings
from crmkit.settings import KitSettings
from pydantic import Field, SecretStr


class Settings(KitSettings, AuthSettings):
    service_name: str = "notifications"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_notifications"
    http_port: int = 8103

    # -- SMTP ------------------------------------------------------------------------------------------
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server (relay) host.")
    smtp_port: int = Field(default=1025, description="SMTP port: 25/587 (STARTTLS) or 465 (TLS).")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_tls: bool = Field(default=False, description="Implicit TLS from the first byte (port 465).")
    smtp_validate_certs: bool = True
    smtp_username: str | None = Field(default=None, description="Login, when the relay wants one.")
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=15.0, gt=0, description="Timeout of each SMTP command.")
    smtp_idle_close_s: float = Field(
        default=2.0, ge=0, description="Keep an idle SMTP connection this long for the next message."
    )
    mail_from: str = Field(
        default="CRM EDESAL <crm@edesal.com.sv>", description="From: header and envelope sender."
    )
    mail_reply_to: str | None = None

    # -- sending ---------------------------------------------------------------------------------------
    mail_sender_enabled: bool = Field(default=True, description="Run the sender loop with the worker.")
    mail_batch_size: int = Field(
        default=50, ge=1, description="Messages claimed per transaction (bounds duplicates on a crash)."
    )
    mail_poll_interval_s: float = Field(default=2.0, gt=0, description="Fallback poll; NOTIFY wakes at once.")
    mail_retry_backoff_s: float = Field(default=30.0, gt=0, description="First retry delay of a message.")
    mail_retry_backoff_max_s: float = Field(default=3600.0, gt=0)
    mail_max_attempts: int = Field(
        default=15, ge=1, description="Transient failures after which a message is marked failed."
    )
    smtp_reconnect_backoff_max_s: float = Field(
        default=30.0, gt=0, description="Longest pause of the sender while the SMTP server is unreachable."
    )

    # -- content ---------------------------------------------------------------------------------------
    web_base_url: str = Field(
        default="http://127.0.0.1:8080", description="Web client base; links are {base}/tickets/{id}."
    )
    timezone: str = Field(default="America/El_Salvador", description="Local time zone for dates and days.")

    # -- reminders and escalations ---------------------------------------------------------------------
    notification_rules_file: str | None = Field(
        default=None, description="YAML or JSON rules file; the built-in defaults when unset."
    )
    scheduler_enabled: bool = Field(default=True, description="Run the reminder/escalation loop.")
    scheduler_interval_s: float = Field(default=300.0, gt=0, description="Seconds between two ticks.")
