"""Business rules: one module per area; each change runs in one transaction, owns its SQL and announces its events."""
