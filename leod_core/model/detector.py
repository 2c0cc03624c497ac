"""The detector: recurrent backbone + PAFPN + YOLOX head, with loss and prediction entry points.

Module names (``backbone``, ``fpn``, ``yolox_head``) mirror RVT's ``YoloXDetector`` so an RVT/LEOD
state dict (keys after stripping Lightning's ``mdl.``) loads strictly.

Training (truncated BPTT): run :meth:`forward_backbone` over the L steps carrying ``states``, keep the
features of the labelled (t, b) pairs with :meth:`gather_features`, then call :meth:`loss` once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from leod_core.model.backbone import BackboneFeatures, BackboneSpec, LstmStates, RecurrentBackbone
from leod_core.model.head import HeadOutput, YOLOXHead
from leod_core.model.losses import LossSettings, detection_loss
from leod_core.model.pafpn import PAFPN
from leod_core.model.postprocess import postprocess

__all__ = ["Detector"]

_FPN_STAGES = (2, 3, 4)


class Detector(nn.Module):
    """RVT detector. ``preset`` and ``camera`` are recorded so a checkpoint can rebuild the model."""

    def __init__(self, backbone_spec: BackboneSpec, fpn_depth: float, num_classes: int,
                 preset: str = "custom", camera: str = "") -> None:
        super().__init__()
        self.preset = preset
        self.camera = camera
        self.num_classes = num_classes
        self.backbone = RecurrentBackbone(backbone_spec)
        in_channels = self.backbone.get_stage_dims(_FPN_STAGES)
        self.fpn = PAFPN(in_channels, depth=fpn_depth, in_stages=_FPN_STAGES)
        self.yolox_head = YOLOXHead(num_classes, in_channels, self.backbone.get_strides(_FPN_STAGES))

    def forward_backbone(self, x: torch.Tensor, states: LstmStates | None = None,
                         token_mask: torch.Tensor | None = None) -> tuple[BackboneFeatures, LstmStates]:
        """One time step: x (B, 20, Hp, Wp) float -> ({stage: (B, C, h, w)}, 4 x (h, c))."""
        return self.backbone(x, states, token_mask)

    def forward_detect(self, features: BackboneFeatures) -> HeadOutput:
        """FPN + head on backbone features (stages 2-4 are used)."""
        return self.yolox_head(self.fpn(features))

    def forward(self, x: torch.Tensor, states: LstmStates | None = None) -> tuple[HeadOutput, LstmStates]:
        features, states = self.forward_backbone(x, states)
        return self.forward_detect(features), states

    @staticmethod
    def gather_features(per_step: Sequence[BackboneFeatures], pairs: Sequence[tuple[int, int]],
                        stages: tuple[int, ...] = _FPN_STAGES) -> BackboneFeatures:
        """Stack features of the labelled (t, b) pairs along the batch axis, in the order of ``pairs``."""
        if not pairs:
            raise ValueError("gather_features needs at least one (t, b) pair")
        out: BackboneFeatures = {}
        for s in stages:
            out[s] = torch.cat([per_step[t][s][b:b + 1] for t, b in pairs], dim=0)
        return out

    def loss(self, features: BackboneFeatures, targets: Sequence[np.ndarray | torch.Tensor],
             loss_cfg: Any = None, num_classes: int | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """YOLOX/LEOD loss on features of labelled frames; ``targets`` one (N, 7) array per frame
        (FRAME_LABEL_COLUMNS, input pixels). ``loss_cfg``: a :class:`leod_core.config.LossConfig`,
        a :class:`LossSettings` or None (plain YOLOX). Returns (total, {iou_loss, obj_loss, cls_loss, num_fg}).
        """
        n_cls = num_classes or self.num_classes
        settings = loss_cfg if isinstance(loss_cfg, LossSettings) else LossSettings.from_config(loss_cfg, n_cls)
        return detection_loss(self.forward_detect(features), targets, n_cls, settings)

    @torch.no_grad()
    def predict(self, features: BackboneFeatures, conf_threshold: float = 0.1,
                nms_iou: float = 0.45) -> list[np.ndarray]:
        """Per image float32 (N, 7): x, y, w, h (top-left, input px), class_id, class conf, objectness."""
        return postprocess(self.forward_detect(features), conf_threshold, nms_iou)
