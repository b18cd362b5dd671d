"""The sync's own database (never FACTELEC's): watermark, runs, quarantine, and what was last published."""
