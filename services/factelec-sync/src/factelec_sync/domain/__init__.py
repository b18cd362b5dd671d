"""The rules of the sync as plain functions and dataclasses, without I/O: validating and mapping a source row
to the contract (``mapping``), encoding events (``events``), the watermark (``watermark``) and the
reconciliation diff (``reconcile``)."""
