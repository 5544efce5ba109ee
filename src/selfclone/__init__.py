"""selfclone: build a chatbot that talks like you."""
__version__ = "0.1.0"
