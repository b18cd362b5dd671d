"""Wiring of the notifications service: settings, migrations, consumed and produced topics, API, and the
two background loops (email sender, reminder/escalation scheduler) that run beside the event worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_contracts.registry import TOPICS
from crmkit.runtime import ServiceDefinition, ServiceRuntime

from notifications.api import build_api
from notifications.clock import Clock, SystemClock
from notifications.compose import Composer
from notifications.domain.rules import Rules, describe
from notifications.handlers import build_subscriptions
from notifications.mailer import Mailer
from notifications.rules_file import load_rules
from notifications.scheduler import Scheduler
from notifications.sender import MailSender
from notifications.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


@dataclass
class Parts:
    """What the service is made of, for the API and for tests (``runtime.state["notifications"]``)."""

    settings: Settings
    clock: Clock
    rules: Rules
    composer: Composer
    tz: ZoneInfo
    sender: MailSender | None = None
    scheduler: Scheduler | None = None


def define(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    rules: Rules | None = None,
    mailer_factory: Callable[[Settings], Mailer] = Mailer,
) -> ServiceDefinition:
    settings = settings or Settings()
    clock = clock or SystemClock()
    rules = rules or load_rules(settings.notification_rules_file)
    tz = ZoneInfo(settings.timezone)
    composer = Composer(
        mail_from=settings.mail_from,
        web_base_url=settings.web_base_url,
        reply_to=settings.mail_reply_to,
        tz=tz,
    )
    parts = Parts(settings=settings, clock=clock, rules=rules, composer=composer, tz=tz)

    def on_start(runtime: ServiceRuntime) -> None:
        runtime.state["notifications"] = parts
        # The loops run where events are consumed (``run`` or ``worker``), not in an API-only process.
        if runtime.worker is None:
            return
        parts.scheduler = Scheduler(runtime.pool, rules, composer, clock, tz)
        parts.sender = MailSender(settings, runtime.pool, mailer_factory(settings), clock)
        # ServiceRuntime.stop() cancels and awaits its tasks; the sender finishes its round first.
        if settings.mail_sender_enabled:
            runtime.add_task(parts.sender.run(), "mail-sender")
        if settings.scheduler_enabled:
            runtime.add_task(parts.scheduler.run(settings.scheduler_interval_s), "scheduler")
        log.info("notification rules in force: %s", describe(rules))

    return ServiceDefinition(
        name="notifications",
        settings=settings,
        migrations=[MIGRATIONS],
        subscriptions=build_subscriptions(composer, clock),
        build_api=lambda runtime: build_api(runtime, parts),
        produces=[t for t in TOPICS if t.producer == "notifications"],
        on_start=on_start,
    )
