"""The read side of the event pipeline: one hub per process fanning events out to local sockets."""
