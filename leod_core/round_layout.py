"""Where a self-training run keeps its files: one home for every file name a stage writes.

Read by every layer: the stage modules (default paths), ``dvc.yaml`` (generated from flows/stages.py,
which spells its paths through :class:`RoundPaths` with DVC's templates for the round), the report, the
smoke and verify checks. Which stages run in which round is the stage specs' (``flows/stages.py``).

Layout of ``paths.artifacts`` (one folder per round ``K``)::

    round_K/labels/labels.parquet      training labels of round K (round 0: the kept sparse GT)
    round_0/labels/withheld.parquet    the GT that subsampling withheld (pseudo-label quality)
    round_K/labels/leod_export/        LEOD's pseudo-dataset layout (K >= 1)
    round_K/model/last.pt              the round's weights (+ best.pt, loss.csv, metrics.json)
    round_K/eval/, round_K/eval_val/   evaluation on the test / val split (metrics.json, detections.parquet)
    round_K/quality/quality.json       pseudo-label quality (K >= 1)
    report/                            rounds compared
    .work/round_K/model/               training work folder (resume checkpoints), not a DVC output
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["LABELS_FILE", "WITHHELD_FILE", "WEIGHTS_FILE", "BEST_WEIGHTS_FILE", "LOSS_FILE", "MODEL_FILES",
           "EXPORT_DIR", "METRICS_FILE", "PR_TABLE_FILE", "PR_PLOT_FILE", "FRAMES_DIR", "DETECTIONS_FILE", "QUALITY_FILE",
           "QUALITY_PLOT_FILE", "REPORT_TABLE_FILE", "REPORT_PLOT_FILE", "RoundPaths", "ArtifactLayout"]

LABELS_FILE = "labels.parquet"
WITHHELD_FILE = "withheld.parquet"  # written beside round 0's labels.parquet by ``leod subsample``
WEIGHTS_FILE = "last.pt"
BEST_WEIGHTS_FILE = "best.pt"  # the best-val weights (train.val_every > 0)
LOSS_FILE = "loss.csv"  # the loss curve, one row per logged step
METRICS_FILE = "metrics.json"  # a training's run summary, an evaluation's scalars
#: what a round's model folder holds: weights, best-val weights, loss curve, run summary
MODEL_FILES = (WEIGHTS_FILE, BEST_WEIGHTS_FILE, LOSS_FILE, METRICS_FILE)
EXPORT_DIR = "leod_export"
PR_TABLE_FILE = "pr.csv"  # an evaluation's precision-recall curves (DVC plots them)
PR_PLOT_FILE = "pr_curves.png"
FRAMES_DIR = "frames"  # an evaluation's example frames
#: an evaluation's detections (every evaluated frame, Prophesee fields): re-evaluating them gives its metrics,
#: and the study's bootstrap over test sequences resamples them
DETECTIONS_FILE = "detections.parquet"
QUALITY_FILE = "quality.json"
QUALITY_PLOT_FILE = "quality.png"
REPORT_TABLE_FILE = "rounds.csv"  # the report: AP per round
REPORT_PLOT_FILE = "rounds.png"

@dataclass(frozen=True)
class RoundPaths:
    """The files of round ``k`` under ``artifacts``. ``k`` may be a dvc.yaml template (``"${key}"``): the
    stage specs (flows/stages.py) spell dvc.yaml's paths through this class, so a file has one name."""

    artifacts: Path
    k: int | str

    @property
    def root(self) -> Path:
        return self.artifacts / f"round_{self.k}"

    @property
    def labels_dir(self) -> Path:
        return self.root / "labels"

    @property
    def labels(self) -> Path:
        return self.labels_dir / LABELS_FILE

    @property
    def export_dir(self) -> Path:
        return self.labels_dir / EXPORT_DIR

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def weights(self) -> Path:
        return self.model_dir / WEIGHTS_FILE

    @property
    def loss_curve(self) -> Path:
        return self.model_dir / LOSS_FILE

    @property
    def train_summary(self) -> Path:
        return self.model_dir / METRICS_FILE

    @property
    def work_dir(self) -> Path:
        """Training work folder (resume checkpoints in its ``.work/``): outside the DVC outputs."""
        return self.artifacts / ".work" / f"round_{self.k}" / "model"

    def eval_dir(self, split: str = "test") -> Path:
        return self.root / ("eval" if split == "test" else f"eval_{split}")

    def metrics(self, split: str = "test") -> Path:
        return self.eval_dir(split) / METRICS_FILE

    def pr_table(self, split: str = "test") -> Path:
        return self.eval_dir(split) / PR_TABLE_FILE

    def pr_plot(self, split: str = "test") -> Path:
        return self.eval_dir(split) / PR_PLOT_FILE

    def eval_frames(self, split: str = "test") -> Path:
        return self.eval_dir(split) / FRAMES_DIR

    def detections(self, split: str = "test") -> Path:
        return self.eval_dir(split) / DETECTIONS_FILE

    @property
    def quality_dir(self) -> Path:
        return self.root / "quality"

    @property
    def quality(self) -> Path:
        return self.quality_dir / QUALITY_FILE

    @property
    def quality_plot(self) -> Path:
        return self.quality_dir / QUALITY_PLOT_FILE


@dataclass(frozen=True)
class ArtifactLayout:
    """All rounds of one run (``paths.artifacts``)."""

    artifacts: Path

    def __init__(self, artifacts: str | Path) -> None:
        object.__setattr__(self, "artifacts", Path(artifacts))

    def round(self, k: int | str) -> RoundPaths:
        return RoundPaths(self.artifacts, k)

    @property
    def kept_labels(self) -> Path:
        """Round 0's kept sparse GT: the labels every later round keeps as they are."""
        return self.round(0).labels

    @property
    def withheld(self) -> Path:
        return self.round(0).labels_dir / WITHHELD_FILE

    @property
    def report_dir(self) -> Path:
        return self.artifacts / "report"

    @property
    def report_table(self) -> Path:
        return self.report_dir / REPORT_TABLE_FILE

    @property
    def report_plot(self) -> Path:
        return self.report_dir / REPORT_PLOT_FILE
