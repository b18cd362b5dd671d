"""The SMTP client: aiosmtplib over one connection, reused for as long as there are messages to send.

``Mailer.send`` never raises for an SMTP or network problem; it says what happened:
- accepted: the server took the message (its answer is kept);
- refused (``permanent``): a 5xx answer to MAIL, RCPT or DATA: this message can never be delivered;
- refused (transient): a 4xx answer to MAIL, RCPT or DATA: the same message may go through later;
- ``connection_lost``: no usable connection (refused, timeout, disconnect, TLS or login failure, 421):
  nothing is known about this message; the connection is dropped and built again on the next send.
  Login and TLS failures count here (transient) on purpose: they are about the configuration or the
  server, not about the message, and must not fail every message permanently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import aiosmtplib

from notifications.domain.delivery import is_permanent
from notifications.settings import Settings

log = logging.getLogger(__name__)

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPNotSupported,
    OSError,
    asyncio.TimeoutError,
)


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    response: str
    code: int | None = None
    permanent: bool = False
    connection_lost: bool = False


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self.connections_opened = 0
        self.last_used = 0.0

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls,
            start_tls=True if s.smtp_starttls else (None if s.smtp_tls else False),
            validate_certs=s.smtp_validate_certs,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout_s,
        )

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        await self.close()
        client = self._new_client()
        # connect() says EHLO, upgrades with STARTTLS and logs in, as configured.
        await client.connect()
        self._client = client
        self.connections_opened += 1
        return client

    async def send(self, sender: str, recipient: str, message: bytes) -> SendResult:
        self.last_used = time.monotonic()
        try:
            client = await self._connection()
            _, response = await client.sendmail(sender, [recipient], message)
            return SendResult(True, response)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            code = refusal.code if refusal else None
            text = f"{code} {refusal.message}" if refusal else str(exc)
            return self._refused(code, text)
        except aiosmtplib.SMTPResponseException as exc:
            # SMTPSenderRefused, SMTPRecipientRefused, SMTPDataError, and the rest with a reply code.
            text = f"{exc.code} {exc.message}"
            if exc.code == 421 or isinstance(exc, _CONNECTION_ERRORS):
                await self.close()
                return SendResult(False, text, exc.code, connection_lost=True)
            return self._refused(exc.code, text)
        except _CONNECTION_ERRORS as exc:
            await self.close()
            return SendResult(False, f"{type(exc).__name__}: {exc}".strip(), connection_lost=True)
        except aiosmtplib.SMTPException as exc:
            await self.close()
            return SendResult(False, f"{type(exc).__name__}: {exc}", connection_lost=True)
        finally:
            self.last_used = time.monotonic()

    def _refused(self, code: int | None, text: str) -> SendResult:
        return SendResult(False, text, code, permanent=is_permanent(code))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if client.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), 2)
        with contextlib.suppress(Exception):
            client.close()
