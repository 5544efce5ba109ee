"""Collect: the interview and the importers that turn a person's writing into messages and examples."""
