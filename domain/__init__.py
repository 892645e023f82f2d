"""Domain functions: each change runs in one transaction, owns its SQL and emits its events."""
