"""The event pipeline's write side: Change and the outbox, what each change announces, the builders, the broker."""
