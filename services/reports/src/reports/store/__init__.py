"""SQL of the reports read model: projection upserts (``projection``) and report queries (``queries``)."""
