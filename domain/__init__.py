"""Business rules: one module per area. Each change runs in one transaction, `services.change(company)`, owns its
SQL and announces its events (events/announce.py); inside it, await nothing but SQL on `change.db` (why: the
docstring of `Change` in events/outbox.py)."""
