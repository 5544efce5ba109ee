"""Generation backends: one interface (messages + options -> stream of text) for chat, servers and bots."""
from .base import Backend, GenerationOptions  # noqa: F401
