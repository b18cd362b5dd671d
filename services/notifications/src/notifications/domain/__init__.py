"""The rules of the notifications service as plain functions and dataclasses: no I/O, unit-tested alone.

- ``model``: what the service knows (its projections of staff, tickets and events);
- ``dates``: local days and Spanish dates in America/El_Salvador;
- ``rules``: the reminder, escalation and event-alert rules (defaults and file format);
- ``planning``: which reminders and escalations are due now, and to whom (manager chain);
- ``recipients``: who gets the assignment email, and which addresses can be used;
- ``delivery``: message states, retry backoff, transient vs permanent SMTP answers.
"""
