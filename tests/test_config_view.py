"""A stage's restricted config (leod_core/config_view.py): declared keys read through, every other key
raises, and what it records is exactly the declared keys."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from leod_core.config import EvalConfig, LeodConfig, config_to_dict
from leod_core.config_view import UndeclaredKeyError, declared_dict, declared_keys, restrict


@pytest.fixture
def cfg() -> LeodConfig:
    return dataclasses.replace(LeodConfig(), rounds=3)


def test_declared_keys_read_through_and_keep_their_types(cfg):
    view = restrict(cfg, ["train.steps", "data", "dataset.camera", "rounds"], "stage x")
    assert view.train.steps == cfg.train.steps and view.rounds == 3
    assert view.data == cfg.data and view.data.augment.tflip == cfg.data.augment.tflip
    assert view.camera.name == cfg.camera.name  # a property over a declared key
    assert isinstance(view, LeodConfig)


@pytest.mark.parametrize("expr, key", [
    (lambda v: v.train.threads, "train.threads"),  # undeclared key of a partly declared section
    (lambda v: v.eval.split, "eval.split"),  # a section declared not at all
    (lambda v: v.rounds + 1, "rounds"),  # a top-level value
    (lambda v: range(v.rounds), "rounds"),
    (lambda v: f"{v.rounds}", "rounds"),
    (lambda v: v.all_labels, "subsample.ratio"),  # a property over an undeclared key
    (lambda v: getattr(v.train, "threads", 2), "train.threads"),  # a default must not hide it
])
def test_reading_an_undeclared_key_raises_and_names_it(cfg, expr, key):
    view = restrict(cfg, ["train.steps"], "stage x")
    with pytest.raises(UndeclaredKeyError, match=f"stage x read '{key}', which it does not declare"):
        expr(view)


def test_a_nested_key_declares_only_itself(cfg):
    view = restrict(cfg, ["data.augment.tflip"], "s")
    assert view.data.augment.tflip == cfg.data.augment.tflip
    with pytest.raises(UndeclaredKeyError, match="'data.augment.hflip'"):
        view.data.augment.hflip
    with pytest.raises(UndeclaredKeyError, match="'data.batch_size'"):
        view.data.batch_size


def test_a_view_is_frozen_and_not_a_way_to_misspell(cfg):
    view = restrict(cfg, ["train.steps"], "s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.train.steps = 3
    with pytest.raises(AttributeError):  # a key no config has is an AttributeError, as on the dataclass
        view.train.stepz


@pytest.mark.parametrize("key", ["train.stepz", "nosuch", "train.steps.x"])
def test_declaring_a_key_the_config_lacks_is_refused(cfg, key):
    with pytest.raises(ValueError, match=f"stage y declares '{key}', which is not a config key"):
        restrict(cfg, [key], "stage y")


def test_declared_dict_records_the_keys_not_the_runtime_reads(cfg):
    view = restrict(cfg, ["train.steps", "eval", "rounds"], "s", reads=["train.ckpt_every"])
    assert view.train.ckpt_every == cfg.train.ckpt_every
    assert declared_keys(view) == ("train.steps", "eval", "rounds")
    assert declared_dict(view) == {"train": {"steps": cfg.train.steps},
                                   "eval": config_to_dict(cfg)["eval"], "rounds": 3}
    assert declared_keys(cfg) is None and declared_dict(cfg) == config_to_dict(cfg)


def test_a_view_survives_pickling_as_process_workers_receive_it(cfg):
    view = pickle.loads(pickle.dumps(restrict(cfg, ["train.steps", "eval"], "s")))
    assert view.train.steps == cfg.train.steps and view.eval == cfg.eval
    with pytest.raises(UndeclaredKeyError):
        view.train.lr
    with pytest.raises(UndeclaredKeyError):
        view.rounds + 0


def test_a_whole_section_stays_the_dataclass(cfg):
    view = restrict(cfg, ["eval"], "s")
    assert dataclasses.replace(view.eval, split="val") == EvalConfig(split="val")
