import dataclasses

import pytest
import torch
import torch.nn.functional as F

from leod_core.model.backbone import BackboneSpec, RecurrentBackbone
from leod_core.model.lstm import ConvLSTMCell
from leod_core.model.maxvit import PartitionAttentionBlock, partition, unpartition


def _reference_block(blk: PartitionAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    """RVT semantics written out: LN on the map, partition, per-head [q|k|v] split, softmax attention."""
    b, h, w, c = x.shape
    p, q = blk.partition_hw
    y = blk.norm1(x)
    if blk.grid:
        groups = y.view(b, p, h // p, q, w // q, c).permute(0, 2, 4, 1, 3, 5).reshape(-1, p * q, c)
    else:
        groups = y.view(b, h // p, p, w // q, q, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, p * q, c)
    att = blk.self_attn
    heads, dh = att.num_heads, att.dim_head
    qkv = att.qkv(groups).view(groups.shape[0], -1, heads, 3 * dh).transpose(1, 2)
    qh, kh, vh = qkv.chunk(3, dim=3)
    a = ((qh @ kh.transpose(-2, -1)) * dh ** -0.5).softmax(-1)
    o = att.proj((a @ vh).transpose(1, 2).reshape(groups.shape[0], -1, c))
    if blk.grid:
        o = o.view(b, h // p, w // q, p, q, c).permute(0, 3, 1, 4, 2, 5).reshape(b, h, w, c)
    else:
        o = o.view(b, h // p, w // q, p, q, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
    x = x + blk.ls1.gamma * o
    return x + blk.ls2.gamma * blk.mlp(blk.norm2(x))


@pytest.mark.parametrize("grid", [False, True])
def test_attention_block_matches_reference_semantics(grid):
    torch.manual_seed(0)
    blk = PartitionAttentionBlock(dim=32, dim_head=16, partition_hw=(2, 3), grid=grid, skip_first_norm=False)
    with torch.no_grad():
        blk.ls1.gamma.fill_(0.7)
        blk.ls2.gamma.fill_(0.3)
    x = torch.randn(2, 4, 6, 32)
    torch.testing.assert_close(blk(x), _reference_block(blk, x), rtol=1e-5, atol=1e-5)


def test_partition_roundtrip_and_grid_groups_are_strided():
    x = torch.arange(2 * 4 * 6 * 1, dtype=torch.float32).view(2, 4, 6, 1)
    for grid in (False, True):
        assert torch.equal(unpartition(partition(x, (2, 3), grid), (2, 3), grid, 2, 4, 6), x)
    g = partition(x, (2, 3), grid=True)[0, :, 0]  # first group: rows {0, 2}, cols {0, 2, 4}
    assert g.tolist() == [0, 2, 4, 12, 14, 16]
    wdw = partition(x, (2, 3), grid=False)[0, :, 0]  # first window: rows {0, 1}, cols {0, 1, 2}
    assert wdw.tolist() == [0, 1, 2, 6, 7, 8]


def test_lstm_cell_matches_conv_formula():
    torch.manual_seed(0)
    cell = ConvLSTMCell(8)
    x = torch.randn(2, 5, 6, 8)
    h0, c0 = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    h, c = cell(x, (h0, c0))
    mix = cell.conv1x1(torch.cat((x.permute(0, 3, 1, 2), h0), dim=1))
    f, i, o = torch.sigmoid(mix[:, :24]).chunk(3, dim=1)
    c_ref = f * c0 + i * torch.tanh(mix[:, 24:])
    torch.testing.assert_close(c, c_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, o * torch.tanh(c_ref), rtol=1e-5, atol=1e-6)
    zeros = (torch.zeros_like(h0), torch.zeros_like(c0))
    for a, b in zip(cell(x, None), cell(x, zeros)):  # missing state == zero state
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _nano_backbone(**kw) -> RecurrentBackbone:
    return RecurrentBackbone(BackboneSpec(embed_dim=8, dim_head=8, partition_hw=(2, 2), **kw))


def test_backbone_shapes_strides_and_states():
    torch.manual_seed(0)
    bb = _nano_backbone()
    x = torch.rand(2, 20, 64, 64) * 5
    feats, states = bb(x)
    assert bb.strides == (4, 8, 16, 32)
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        1: (2, 8, 16, 16), 2: (2, 16, 8, 8), 3: (2, 32, 4, 4), 4: (2, 64, 2, 2)}
    assert len(states) == 4 and all(s[0].shape == s[1].shape == feats[i + 1].shape for i, s in enumerate(states))
    feats2, _ = bb(x, states)  # recurrent state changes the output ...
    assert not torch.allclose(feats2[4], feats[4])
    feats3, _ = bb(x, None)  # ... and None resets it
    torch.testing.assert_close(feats3[4], feats[4])
    with pytest.raises(ValueError, match="LSTM states"):
        bb(x, states[:2])


def test_token_mask_needs_mask_token_and_replaces_tokens():
    bb = _nano_backbone()
    x = torch.rand(1, 20, 64, 64)
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[:, 8:] = True
    with pytest.raises(ValueError, match="mask token"):
        bb(x, token_mask=mask)
    masked = RecurrentBackbone(dataclasses.replace(bb.spec, enable_masking=True))
    stage = masked.stages[0]
    t1 = stage.downsample_cf2cl(x.contiguous(memory_format=torch.channels_last))
    t1 = torch.where(mask[..., None], stage.mask_token, t1)
    assert torch.equal(t1[:, 8:], stage.mask_token.expand(1, 8, 16, 8))
    f1, _ = masked(x, token_mask=mask)
    assert torch.isfinite(f1[4]).all()
    assert F.mse_loss(f1[1], masked(x)[0][1]) > 0  # the mask changes the features
