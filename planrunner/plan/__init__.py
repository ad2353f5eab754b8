"""The plan language: loading, schema validation, the typed model and cross-field rules."""
