"""Recurrent (ConvLSTM) state kept between training steps, per streaming slot (truncated BPTT).

REFERENCE section 7: a streaming batch slot continues its sequence in the next batch, so its final state
is stored (detached: gradients flow through the L timesteps of one chunk only) and handed back at the next
step; a slot whose sample starts a new sequence (``is_first``) starts from zeros; random-access samples
(key ``None``) always start from zeros. The model's state is ``States``: one ``(h, c)`` pair per backbone
stage, each ``(B, C, H, W)``; the store keeps per-sample slices keyed by the loader's ``state_keys``:
``("stream", slot)``, or ``("stream", worker, slot)`` with LEOD's per-worker stream sets (``data.num_workers``
> 0, :mod:`leod_core.data.mixed`), where a worker's streams continue only in that worker's later batches.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch

__all__ = ["States", "RnnStateStore"]

#: per backbone stage, (h, c) of shape (B, C, H, W)
States = list[tuple[torch.Tensor, torch.Tensor]]
_SampleState = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per stage, (h, c) of shape (C, H, W)


class RnnStateStore:
    """Per-key RNN states: ``gather`` before the unroll, ``store`` (detached) after it."""

    def __init__(self) -> None:
        self._states: dict[Hashable, _SampleState] = {}

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._states

    def clear(self) -> None:
        self._states.clear()

    def gather(self, keys: Sequence[Hashable | None], is_first: Sequence[bool] | torch.Tensor,
               device: torch.device | str | None = None) -> States | None:
        """Batched initial states for a batch; ``None`` when every sample starts from zeros.

        Sample b starts from zeros when ``keys[b] is None``, ``is_first[b]`` is true or nothing is stored
        for its key yet; otherwise from the state stored for ``keys[b]``.
        """
        flags = [bool(f) for f in (is_first.tolist() if isinstance(is_first, torch.Tensor) else is_first)]
        if len(flags) != len(keys):
            raise ValueError(f"state_keys has {len(keys)} entries but is_first has {len(flags)}")
        _check_unique(keys)
        carried = [None if (k is None or first) else self._states.get(k) for k, first in zip(keys, flags)]
        template = next((s for s in carried if s is not None), None)
        if template is None:
            return None
        states: States = []
        for stage, (h_t, c_t) in enumerate(template):
            hs, cs = [], []
            for sample in carried:
                h, c = sample[stage] if sample is not None else (torch.zeros_like(h_t), torch.zeros_like(c_t))
                hs.append(h)
                cs.append(c)
            states.append((_batch(hs, device), _batch(cs, device)))
        return states

    def store(self, keys: Sequence[Hashable | None], states: States) -> None:
        """Keep the final states of the keyed samples, detached from the graph (truncated BPTT)."""
        _check_unique(keys)
        for stage, (h, c) in enumerate(states):
            if h.shape[0] != len(keys) or c.shape[0] != len(keys):
                raise ValueError(f"stage {stage} states have batch {h.shape[0]} but there are {len(keys)} keys")
        for b, key in enumerate(keys):
            if key is None:
                continue  # random-access sample: never continued
            self._states[key] = tuple((h[b].detach().clone(), c[b].detach().clone()) for h, c in states)

    def state_dict(self) -> dict[str, Any]:
        """CPU copy for checkpoints: ``{"keys": [...], "states": [per key: [(h, c) per stage]]}``."""
        keys = list(self._states)
        return {"keys": keys,
                "states": [[(h.cpu(), c.cpu()) for h, c in self._states[k]] for k in keys]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != {"keys", "states"} or len(state["keys"]) != len(state["states"]):
            raise ValueError("RNN state checkpoint must hold equally long 'keys' and 'states'")
        self._states = {_hashable(k): tuple((h, c) for h, c in s) for k, s in zip(state["keys"], state["states"])}


def _batch(per_sample: list[torch.Tensor], device: torch.device | str | None) -> torch.Tensor:
    # the model's states are channels-last (its ConvLSTM permutes them to NHWC for free)
    return torch.stack(per_sample).to(device).contiguous(memory_format=torch.channels_last)


def _check_unique(keys: Sequence[Hashable | None]) -> None:
    named = [k for k in keys if k is not None]
    if len(set(named)) != len(named):
        raise ValueError(f"state_keys must be unique within a batch, got {list(keys)}")


def _hashable(key: Any) -> Hashable:
    # a checkpoint round trip may turn tuple keys into lists
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key
