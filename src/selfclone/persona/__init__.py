"""The person behind the clone at talk time: conversations with memory, presets, notes and contacts."""
