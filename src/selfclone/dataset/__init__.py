"""Datasets: the canonical chat format, legacy conversions, splitting, privacy and validation."""
