"""The ``synth`` stage's MLflow summary (tasks/synth.py): counts per split."""

from leod_core.synth.simulator import SynthSequenceSummary
from flows.synth import synth_totals


def test_synth_totals_sum_per_split():
    seqs = [SynthSequenceSummary("a", "train", 1000, (3, 4), 2.0, False, 0.1, 0.1),
            SynthSequenceSummary("b", "train", 500, (1, 0), 2.0, True, 0.1, 0.1),
            SynthSequenceSummary("c", "val", 20, (0, 2), 1.0, False, 0.1, 0.1)]
    assert synth_totals(seqs) == {"train.sequences": 2, "train.events": 1500, "train.boxes": 8,
                                  "val.sequences": 1, "val.events": 20, "val.boxes": 2}
