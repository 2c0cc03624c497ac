import numpy as np
import pytest
import torch

from leod_core.cameras import get_camera
from leod_core.inference import stream as inference
from leod_core.inference.stream import ALL_VIEWS, SequenceJob, View, predict_sequence, predict_sequences, stream_start
from leod_core.events.h5_store import write_representations
from leod_core.layout import SequencePaths

SYNTH = get_camera("synth")
H, W = SYNTH.repr_hw
COL0 = 10  # repr i has its marker pixel in column COL0 + i, channel 0


class FakeModel:
    """Backbone: counts steps since the last reset (the state). Predict: one box at the marker pixel:
    x = marker column, y = steps since reset, w = h = 1, class = marker channel."""

    training = False

    def forward_backbone(self, x, states=None, token_mask=None):
        count = torch.ones(x.shape[0]) if states is None else states[0][0] + 1
        return {2: x, 3: count}, [(count, count)]

    def predict(self, features, conf_threshold=0.1, nms_iou=0.45):
        out = []
        for img, count in zip(features[2], features[3]):
            c, y, x = np.unravel_index(int(torch.argmax(img)), img.shape)
            out.append(np.array([[x, float(count), 1, 1, c, 1, 1]], np.float32))
        return out


def make_seq(root, name, n):
    seq = SequencePaths(root / name, SYNTH)
    frames = np.zeros((n, 20, H, W), np.uint8)
    for i in range(n):
        frames[i, 0, 5, COL0 + i] = i + 1
    write_representations(seq.repr_h5, iter(frames), (H, W))
    return seq


@pytest.fixture
def seq(tmp_path):
    return make_seq(tmp_path, "seq_a", 12)


def test_stream_start():
    assert stream_start(30, 21) == 10 and stream_start(5, 10) == 0


def test_forward_stream_carries_state_across_chunks(seq):
    pred = predict_sequence(FakeModel(), seq, SYNTH, start_repr=3, L=4)
    assert sorted(pred) == list(range(3, 12))
    for i, p in pred.items():
        assert p.shape == (1, 7) and p.dtype == np.float32
        assert p[0, 0] == COL0 + i and p[0, 1] == i - 3 + 1 and p[0, 4] == 0


@pytest.mark.parametrize("every", [1, 3])
def test_memory_reset_every_zeroes_states(seq, every):
    job = SequenceJob(seq, 0, None)
    pred = predict_sequences(FakeModel(), [job], SYNTH, 4, reset_every=every)[0][View()]
    assert [int(pred[i][0, 1]) for i in range(12)] == [i % every + 1 for i in range(12)]
    with pytest.raises(ValueError, match="reset_every"):
        predict_sequences(FakeModel(), [job], SYNTH, 4, reset_every=-1)


def test_predict_at_subset(seq):
    pred = predict_sequence(FakeModel(), seq, SYNTH, start_repr=0, L=5, predict_at={5, 9, 40})
    assert sorted(pred) == [5, 9]
    assert pred[9][0, 1] == 10  # state still advanced on every repr


def test_hflip_maps_boxes_back(seq):
    pred = predict_sequence(FakeModel(), seq, SYNTH, start_repr=0, L=4, hflip=True)
    for i, p in pred.items():
        assert p[0, 0] == COL0 + i  # W - x' - w undoes the flip exactly


def test_tflip_reverses_with_channel_flip_and_offset(seq):
    pred = predict_sequence(FakeModel(), seq, SYNTH, start_repr=3, L=4, tflip=True)
    # reversed repr i (11 .. 3) -> frame i - 1 (synth tflip_offset -1)
    assert sorted(pred) == list(range(2, 11))
    for frame, p in pred.items():
        i = frame + 1
        assert p[0, 0] == COL0 + i and p[0, 4] == 19  # marker moved to the last channel
        assert p[0, 1] == 12 - i  # state reset at the reversed start (repr 11)


def test_batched_streams_equal_single_streams(tmp_path):
    seqs = [make_seq(tmp_path, f"s{k}", n) for k, n in enumerate((12, 7, 9))]
    jobs = [SequenceJob(s, start, None) for s, start in zip(seqs, (0, 2, 1))]
    batched = predict_sequences(FakeModel(), jobs, SYNTH, 4, ALL_VIEWS, batch_size=8)
    for job, res in zip(jobs, batched):
        assert set(res) == set(ALL_VIEWS)
        for v in ALL_VIEWS:
            single = predict_sequence(FakeModel(), job.seq, SYNTH, job.start_repr, 4, hflip=v.hflip, tflip=v.tflip)
            assert sorted(single) == sorted(res[v])
            for f in single:
                np.testing.assert_array_equal(single[f], res[v][f])


def test_one_read_per_chunk_and_direction(seq, monkeypatch):
    calls = []
    orig = inference.ReprReader.read

    def counting(self, start, stop):
        calls.append((start, stop))
        return orig(self, start, stop)

    monkeypatch.setattr(inference.ReprReader, "read", counting)
    predict_sequences(FakeModel(), [SequenceJob(seq, 1)], SYNTH, 4, (View(), View(True, False), View(False, True)))
    # 11 reprs -> 3 chunks per direction; hflip shares the forward reads
    assert sorted(calls) == sorted([(1, 5), (5, 9), (9, 12), (8, 12), (4, 8), (1, 4)])


def test_wrong_repr_size_is_rejected(tmp_path):
    seq = SequencePaths(tmp_path / "bad", SYNTH)
    write_representations(seq.repr_h5, iter(np.zeros((2, 20, 8, 8), np.uint8)), (8, 8))
    with pytest.raises(ValueError, match="representation size"):
        predict_sequence(FakeModel(), seq, SYNTH, 0, 4)


def test_real_detector_smoke(seq):
    from leod_core.model.presets import build_detector

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_detector("nano", SYNTH)
    model.train()
    pred = predict_sequence(model, seq, SYNTH, start_repr=9, L=2, conf_threshold=0.0, nms_iou=0.45)
    assert sorted(pred) == [9, 10, 11]
    assert all(p.ndim == 2 and p.shape[1] == 7 for p in pred.values())
    assert model.training  # mode restored


def test_real_detector_batched_equals_single(tmp_path):
    from leod_core.model.presets import build_detector

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_detector("nano", SYNTH).eval()
    rng = np.random.default_rng(0)
    seqs = []
    for k, n in enumerate((4, 3)):
        seq = SequencePaths(tmp_path / f"r{k}", SYNTH)
        write_representations(seq.repr_h5, iter(rng.integers(0, 4, (n, 20, H, W), dtype=np.uint8)), (H, W))
        seqs.append(seq)
    views = (View(), View(True, True))
    batched = predict_sequences(model, [SequenceJob(s) for s in seqs], SYNTH, 2, views, conf_threshold=0.0,
                                batch_size=4)
    for seq, res in zip(seqs, batched):
        for v in views:
            single = predict_sequence(model, seq, SYNTH, 0, 2, hflip=v.hflip, tflip=v.tflip, conf_threshold=0.0)
            assert sorted(single) == sorted(res[v])
            for f in single:
                a, b = single[f], res[v][f]
                assert a.shape == b.shape
                np.testing.assert_allclose(a[:20], b[:20], atol=1e-3)
