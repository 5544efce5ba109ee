"""Talking to a clone: terminal chat and one-shot questions (later: HTTP API, web UI, bots). Gets a Backend."""
