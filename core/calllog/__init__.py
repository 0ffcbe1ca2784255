"""The call log: every call and conversation in a local SQLite database (an observability plugin)."""
