"""The ``import`` stage's MLflow summary (tasks/import_data.py): counts per split."""

from leod_core.events.prophesee_import import ImportedSequence
from flows.import_data import import_totals


def test_import_totals_sum_per_split():
    seqs = [ImportedSequence("a", "train", 100, 10, 4, 8, 0, 10.0),
            ImportedSequence("b", "train", 50, 5, 2, 3, 1, 10.0),
            ImportedSequence("c", "test", 7, 1, 1, 0, 0, 7.0)]
    assert import_totals(seqs) == {
        "train.sequences": 2, "train.reprs": 15, "train.label_frames": 6, "train.boxes": 11, "train.events": 150,
        "test.sequences": 1, "test.reprs": 1, "test.label_frames": 1, "test.boxes": 0, "test.events": 7}
    assert import_totals([]) == {}
