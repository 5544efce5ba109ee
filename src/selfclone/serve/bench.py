"""placeholder"""


def bench_chat():
    """Time to first token and decode speed against plain model.generate."""
    raise NotImplementedError
