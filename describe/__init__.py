"""Self-description: the OpenAPI and AsyncAPI documents, built from data."""
