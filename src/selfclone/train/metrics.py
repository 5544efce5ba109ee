"""Training metrics: token and sequence accuracy, the metrics log (JSONL + TensorBoard), curves.png.

Token accuracy: the share of trained tokens whose argmax prediction is right. Sequence accuracy: the share
of examples whose trained tokens are all right (OpenAI's fine-tuning metrics define them the same way).
"""
from __future__ import annotations

from pathlib import Path


def accuracy_counts(predictions, labels, example_index):
    """(correct tokens, total tokens, correct sequences, sequences) for selected positions.

    `predictions` (argmax token ids) [N] and `labels` [N] are the trained positions only; `example_index` [N] says which example
    each position belongs to.
    """
    import torch

    hit = predictions == labels
    n_examples = int(example_index.max().item()) + 1 if len(example_index) else 0
    misses = torch.zeros(n_examples, dtype=torch.long).scatter_add_(0, example_index, (~hit).long())
    present = torch.zeros(n_examples, dtype=torch.long).scatter_add_(0, example_index, torch.ones_like(example_index))
    has = present > 0
    return int(hit.sum()), int(hit.numel()), int(((misses == 0) & has).sum()), int(has.sum())


class TensorBoardLog:
    def __init__(self, log_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir))

    def log(self, row: dict) -> None:
        step = row["step"]
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


SFT_PANELS = (("loss", "train_loss", "valid_loss"),
              ("token accuracy", "train_token_accuracy", "valid_token_accuracy"),
              ("learning rate", "learning_rate", None))


def plot_curves(rows: list[dict], path: Path, title: str = "", panels=SFT_PANELS) -> None:
    """One panel per (title, train key, validation key or None) against step; SFT's loss, accuracy, rate by default.
    Skipped where matplotlib is not installed (a bare GPU machine: scripts/gpu-check.sh); metrics.jsonl has it all."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fileio import atomic_open

    fig, axes = plt.subplots(1, len(panels), figsize=(13 * len(panels) / 3, 3.8), squeeze=False)
    for ax, (name, tkey, vkey) in zip(axes[0], panels):
        train = [r for r in rows if r.get(tkey) is not None]
        valid = [r for r in rows if vkey and r.get(vkey) is not None]
        if train:
            ax.plot([r["step"] for r in train], [r[tkey] for r in train], label="train", lw=1.2, alpha=0.8,
                    marker="." if len(train) < 20 else None)      # a few points (or one) stay visible
        if valid:
            ax.plot([r["step"] for r in valid], [r[vkey] for r in valid], "o-", label="validation", lw=2)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if vkey:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
