"""Shared plumbing for every EDESAL CRM service, written once: outbox, relay, idempotent consumer,
retries and dead letters, settings, logging, health, metrics and HTTP chassis."""
