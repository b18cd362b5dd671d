"""The rules of the attentions service as plain functions and dataclasses: no framework, no driver, no I/O.

- ``errors``: ``RuleBroken``, what every rule raises (the API turns it into a problem+json answer);
- ``access``: who may see a client, a suministro and what hangs under them; roles;
- ``dates``: commitment and due dates;
- ``closure``: when attentions and events may close, when events and tickets may be added;
- ``codes``: the human codes (CLI-000042, ATN-2026-000123, EVT-..., TCK-...);
- ``attachments``: what a PDF attachment must be;
- ``staff``: the staff directory rules and its CSV import.
"""
