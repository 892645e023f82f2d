"""The HTTP edge: serving and the commands, host and origin checks, CSRF, Idempotency-Key, outages."""
