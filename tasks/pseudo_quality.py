"""Task of the ``pseudo_quality`` stage: precision/recall/AP of a round's pseudo labels vs withheld GT."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from leod_core.cameras import CameraSpec
from leod_core.round_layout import QUALITY_FILE, QUALITY_PLOT_FILE

__all__ = ["measure_quality"]


@task(name="pseudo-quality", cache_policy=NO_CACHE)
def measure_quality(labels: Path, withheld: Path, camera: CameraSpec, out_dir: Path, round_idx: int,
                    human: Path | None = None) -> dict:
    """Compare the tables (leaving out the frames the ``human`` table reviewed), write ``quality.json`` and
    ``quality.png`` under ``out_dir``; return the dict."""
    from leod_core.eval.box_files import write_json
    from leod_core.eval.quality import pseudo_label_quality
    from leod_core.labels.human import read_human
    from leod_core.labels.table import read_labels
    from leod_core.viz.plots import plot_quality

    reviewed = read_human(human).keys if human is not None else ()
    q = pseudo_label_quality(read_labels(labels), read_labels(withheld), camera, reviewed)
    out_dir = Path(out_dir)
    write_json(q, out_dir / QUALITY_FILE)
    plot_quality(q, out_dir / QUALITY_PLOT_FILE, title=f"round {round_idx} pseudo labels vs withheld GT")
    return q
