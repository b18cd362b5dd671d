"""The rules of the tickets service, as plain functions and dataclasses: no I/O, no framework.

- ``tickets``: how a COMANDA status change moves a ticket (sequence order, duplicates, early arrivals), what
  it publishes, who may see a ticket, when it is overdue;
- ``work_orders``: the technical work-order state machine and who may move it;
- ``errors``: what a broken rule looks like, whatever layer finds it.
"""
