"""The web app (`selfclone serve web`, `selfclone app`): a FastAPI app with the chat page; assets vendored in static/."""
