"""The documentation site's reference pages (tools/gen_reference.py) against the code they are generated
from: every `leod` command and option of the parser, every params.yaml key and config-schema field (both
ways), every DVC stage spec. The page texts are parsed back, so a page that drops or invents an entry
fails. Runs without mkdocs (the generator's page functions need only the venv)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_reference", REPO / "tools" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _sections(page: str, heading: str) -> dict[str, str]:
    """{heading text: the section's body} for headings matching ``heading`` (a regex with one group)."""
    parts = re.split(rf"^{heading}$", page, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _first_cells(body: str) -> list[str]:
    """The first cell of each data row of the first table in ``body``."""
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [row.split(" | ")[0][2:] for row in rows[1:]]  # rows[0]: the header


def _parser_arguments(parser: argparse.ArgumentParser) -> set[str]:
    """What `--help` lists: option strings and positional names (help and hidden options left out)."""
    names: set[str] = set()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        names.update(action.option_strings or [action.metavar or action.dest])
    return names


def test_cli_reference_lists_every_command_and_option(gen):
    from flows.cli import build_parser, commands

    parser = build_parser()
    page = gen.cli_reference(parser)
    sections = _sections(page, r"## `leod ?([a-z-]*)`")
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sections) == [""] + list(sub.choices) == [""] + [name for name, _, _ in commands()]
    for name, body in sections.items():
        command = parser if name == "" else sub.choices[name]
        listed = {n for cell in _first_cells(body) for n in re.findall(r"`([^`]+)`", cell.split(" (")[0])}
        if name == "":
            listed -= {f"leod {c}" for c in sub.choices}  # the second table: the commands
        assert listed == _parser_arguments(command), f"leod {name}"
        for action in command._actions:
            if action.help and action.help != argparse.SUPPRESS and not isinstance(action, argparse._SubParsersAction) \
                    and "%(" not in action.help and not isinstance(action, argparse._HelpAction):
                assert gen._cell(action.help) in body, f"leod {name}: help of {action.dest}"


def _yaml_leaves(mapping: dict, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in mapping.items():
        if isinstance(value, dict):
            out |= _yaml_leaves(value, f"{prefix}{key}.")
        else:
            out.add(prefix + key)
    return out


def _schema_fields(obj, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out |= _schema_fields(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else {prefix + f.name}
    return out


def test_params_reference_lists_every_key_and_every_schema_field(gen):
    from flows.settings import PipelineConfig
    from leod_core.config_schema import knobs

    page = gen.params_reference()
    listed = [m for cell in _first_cells_all(page) for m in re.findall(r"^`([^`]+)`$", cell)]
    assert len(listed) == len(set(listed)), "a key is listed twice"
    in_file = _yaml_leaves(yaml.safe_load((REPO / "params.yaml").read_text()))
    in_schema = _schema_fields(PipelineConfig())
    assert in_file == in_schema == set(listed), sorted(in_file ^ set(listed) | in_schema ^ set(listed))
    for k in knobs(PipelineConfig):
        assert k.doc and gen._cell(k.doc) in page, k.key
        if k.check is not None:
            assert gen._cell(k.check.allowed) in page, k.key


def _first_cells_all(page: str) -> list[str]:
    return [line.split(" | ")[0][2:] for line in page.splitlines()
            if line.startswith("| `") and not line.startswith("|---")]


def test_section_docs_head_their_tables(gen):
    from flows.settings import PipelineConfig
    from leod_core.config_schema import sections

    page = gen.params_reference()
    for sec in sections(PipelineConfig):
        if sec.doc and "." not in sec.key:
            assert page.split(f"## `{sec.key}`", 1)[1].lstrip().startswith(gen._cell(sec.doc)), sec.key


def test_stages_reference_lists_every_stage(gen):
    from flows.stages import STAGES, code_deps

    page = gen.stages_reference()
    sections = _sections(page, r"## `([a-z_]+)`")
    assert list(sections) == [s.name for s in STAGES]
    for spec in STAGES:
        body = sections[spec.name]
        assert f"`{spec.cmd}`" in body
        for item in spec.deps + spec.params + [i if isinstance(i, str) else i[0]
                                               for i in spec.outs + spec.metrics + spec.plots]:
            assert f"`{item}`" in body, f"{spec.name}: {item}"
        assert f"**Code** ({len(code_deps(spec))} files" in body


def test_api_pages_cover_every_public_module(gen):
    modules = {p.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
               for p in (REPO / "leod_core").rglob("*.py")}
    public = {m for m in modules if not any(part.startswith("_") for part in m.split("."))}
    listed = {m for text in gen.api_pages().values() for m in re.findall(r"^::: (\S+)$", text, flags=re.M)}
    packages = {m.rsplit(".", 1)[0] for m in modules if m.endswith(".__init__")}
    assert listed == public | packages


def test_site_nav_and_nothing_generated_committed(gen):
    """mkdocs.yml's nav names hand-written pages that exist, and a Reference section the hook fills; no
    generated page lies in docs/ (they are built in memory) or is tracked by git."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    generated = gen.pages()
    assert "tools/gen_reference.py" in config["hooks"]

    def paths(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from paths(value) if isinstance(value, list) else [value]

    sections = [next(iter(i)) for i in config["nav"]]
    assert gen.NAV_SECTION in sections
    for path in paths(config["nav"]):
        assert (REPO / "docs" / path).is_file() or path in generated, path
    # and the other way round: `mkdocs build --strict` fails on a page the nav leaves out
    in_nav = set(paths(config["nav"]))
    pages = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert not pages - in_nav, f"pages not in mkdocs.yml's nav: {sorted(pages - in_nav)}"
    for path in generated:
        assert not (REPO / "docs" / path).exists(), f"docs/{path} is generated at build time"
    tracked = subprocess.run(["git", "ls-files", "docs/reference", "docs/readme.md"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
    assert tracked == ""
    before = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] in ("flows", "leod_core")}
    filled = gen.on_config({"nav": [{"Home": "index.md"}, {gen.NAV_SECTION: "reference/index.md"}]})["nav"]
    # the first build keeps the modules: dropping them would give the rest of the session new class objects
    assert all(sys.modules.get(name) is mod for name, mod in before.items())
    assert set(paths(filled)) == {"index.md"} | {p for p in generated if p.startswith(gen.REFERENCE + "/")}
