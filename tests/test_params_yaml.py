"""params.yaml is written from the config schema: every key once, with its doc and its check."""

import yaml
import pytest

from leod_core.config import ConfigError
from flows.settings import PipelineConfig, load_config
from leod_core.config_schema import knobs, sections
from flows.params_yaml import main, render_params_yaml, yaml_value
from tests.test_config import REPO


def test_committed_params_yaml_is_what_the_schema_renders():
    assert (REPO / "params.yaml").read_text() == render_params_yaml(), "params.yaml is out of date: make params-yaml"


def test_check_mode_names_the_fix(tmp_path, capsys):
    stale = tmp_path / "params.yaml"
    stale.write_text(render_params_yaml().replace("rounds: 1", "rounds: 2"))
    assert main(["--check", "--path", str(stale)]) == 1
    assert "out of date: run `make params-yaml`" in capsys.readouterr().err
    assert main(["--path", str(stale)]) == 0 and main(["--check", "--path", str(stale)]) == 0


def test_every_key_has_a_doc_and_every_section_reads_back():
    assert [k.key for k in knobs(PipelineConfig) if not k.doc] == []
    data = yaml.safe_load(render_params_yaml())
    for k in knobs(PipelineConfig):
        node = data
        for part in k.key.split("."):
            node = node[part]
        assert node == (list(k.default) if isinstance(k.default, tuple) else k.default), k.key
    assert {s.key for s in sections(PipelineConfig)} >= {"data.augment", "pseudo.tracker", "study"}


@pytest.mark.parametrize("value", [1e-5, 3e-3, 10000.0, 0.0, "", "a b", "yes", "[x]", "0.5", "x: y", (0.6, 0.3),
                                   ("train.ckpt_every=50",), True, 7])
def test_yaml_values_read_back_as_written(value):
    read = yaml.safe_load(f"k: {yaml_value(value)}")["k"]
    assert read == (list(value) if isinstance(value, tuple) else value)


def test_each_check_refuses_a_value_naming_its_key():
    # the checks live on the fields: each one must reject something, with the key and what is allowed
    bad = {"int": -5, "float": -5.0, "str": "no-such-value", "tuple[float, ...]": [-1.0, 2.0],
           "tuple[int, ...]": [-1], "tuple[str, ...]": ["no=such", "no=such"]}
    checked = [k for k in knobs(PipelineConfig) if k.check is not None]
    assert len(checked) >= 75
    for k in checked:
        value = bad[k.annotation]
        if k.key == "paths.human_labels":
            value = "labels.csv"
        elif k.key == "study.overrides":
            value = ["study.steps=3"]
        with pytest.raises(ConfigError) as err:
            load_config(None, [f"{k.key}={value}" if not isinstance(value, list) else f"{k.key}={value!r}"])
        assert str(err.value).startswith(f"params: {k.key}=") and k.check.allowed in str(err.value), str(err.value)
