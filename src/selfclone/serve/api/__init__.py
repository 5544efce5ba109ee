"""The OpenAI-compatible HTTP API: `selfclone serve api [MODEL...]`; `create_app(pool, ...)` builds the FastAPI app
(reused by any frontend that wants the same routes under /v1)."""
