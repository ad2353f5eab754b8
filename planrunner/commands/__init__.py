"""Command workflows: the imperative shell behind each CLI command (no click in here)."""
