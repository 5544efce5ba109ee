"""Optional experiment trackers beside TensorBoard: Weights & Biases and MLflow, when installed and asked for."""
from __future__ import annotations

from ..errors import ConfigError


class WandbLog:
    def __init__(self, info: dict):
        import wandb

        self.run = wandb.init(project="selfclone", name=info.get("name"), config=info.get("settings"))

    def log(self, row: dict) -> None:
        self.run.log({k: v for k, v in row.items() if k != "step"}, step=row["step"])

    def close(self) -> None:
        self.run.finish()


class MlflowLog:
    def __init__(self, info: dict):
        import mlflow

        self.mlflow = mlflow
        mlflow.start_run(run_name=info.get("name"))
        mlflow.log_params({k: str(v) for k, v in (info.get("settings") or {}).items()})

    def log(self, row: dict) -> None:
        self.mlflow.log_metrics({k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "step"},
                                step=row["step"])

    def close(self) -> None:
        self.mlflow.end_run()


TRACKERS = {"wandb": WandbLog, "mlflow": MlflowLog}


def open_trackers(names: list[str], info: dict) -> list:
    out = []
    for name in names:
        try:
            out.append(TRACKERS[name](info))
        except ImportError as exc:
            raise ConfigError(f"--report-to {name}: the {name} package is not installed", f"pip install {name}") from exc
    return out
