"""`selfclone bench train`: placeholder until the benchmark lands."""


def bench_train():
    """Training throughput against plain TRL SFTTrainer, measured in one run."""
    raise NotImplementedError
