"""The database: statements and connections, the versioned schema, and the stores that carry no rule."""
