from leod_core.eval.box_files import read_box_folder
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE


def test_read_box_folder_names_and_extra_fields(box_folders):
    gt_dir, pred_dir = box_folders
    assert sorted(read_box_folder(gt_dir)) == ["seq_a", "seq_b"]
    assert read_box_folder(pred_dir)["seq_a"].dtype == PROPHESEE_BBOX_DTYPE
