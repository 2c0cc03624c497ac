"""RVT's event representation, the one home of its constants (docs/REFERENCE.md): a stacked histogram
of ``NBINS`` time bins per polarity over each ``REPR_STEP_US`` window, counts clipped at ``COUNT_CUTOFF``,
stored under ``REPR_DIR_NAME``. Everything else (grid, importer, layout, stats, synthetic camera,
camera checks) imports them from here."""

from __future__ import annotations

__all__ = ["REPR_STEP_US", "NBINS", "COUNT_CUTOFF", "REPR_DIR_NAME"]

REPR_STEP_US = 50_000  # one representation every 50 ms, each covering the 50 ms before its end time
NBINS = 10  # time bins per polarity: 2 x 10 = 20 input channels
COUNT_CUTOFF = 10  # histogram counts clipped at this value (uint8 storage)
#: RVT's folder name of this representation: its parameters, spelled from the constants above
REPR_DIR_NAME = f"stacked_histogram_dt={REPR_STEP_US // 1000}_nbins={NBINS}"
