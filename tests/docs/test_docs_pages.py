"""The hand-written pages of the documentation site: every shell block is marked as run by a test
(`<!-- run: tests/PATH::TEST -->`, and that test exists) or not run (`<!-- not-run: reason -->`) on the
line before it; the not-run ones are listed (-rA or the test's stdout) so what a reader may copy untested
is known. Generated pages (tools/gen_reference.py) are not written by hand and hold no such block."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: the hand-written pages this check covers (DESIGN.md, DEVIATIONS.md and study_engines.md are notes
#: kept beside the site, linked from it)
PAGES = ["index.md", "tutorials", "how-to", "explanation"]
SHELL = ("bash", "sh", "shell", "console")
MARK = re.compile(r"^<!-- (run|not-run): (.+?) -->$")


def _pages() -> list[Path]:
    out = []
    for name in PAGES:
        path = DOCS / name
        out += sorted(path.rglob("*.md")) if path.is_dir() else [path]
    return out


def shell_blocks() -> list[tuple[Path, int, str, str, str]]:
    """(page, line, mark, reason or test, first command) of every shell block of the covered pages."""
    blocks = []
    for page in _pages():
        lines = page.read_text().splitlines()
        inside = False
        for i, line in enumerate(lines):
            if line.startswith("```"):
                if not inside and line[3:].strip() in SHELL:
                    match = MARK.match(lines[i - 1]) if i else None
                    mark, note = match.groups() if match else ("", "")
                    blocks.append((page, i + 1, mark, note, lines[i + 1].split("#")[0].strip()))
                inside = not inside
    return blocks


def test_every_shell_block_is_marked_run_or_not_run():
    blocks = shell_blocks()
    assert blocks, "no shell block found: the check reads the wrong pages"
    unmarked = [f"{p.relative_to(REPO)}:{n}" for p, n, mark, _, _ in blocks if not mark]
    assert not unmarked, f"shell blocks without <!-- run: ... --> / <!-- not-run: ... --> before them: {unmarked}"
    for page, line, mark, note, _ in blocks:
        if mark == "run":  # the named test exists, so the mark cannot claim a test that is not there
            path, _, name = note.partition("::")
            assert (REPO / path).is_file() and re.search(rf"def {re.escape(name)}\b", (REPO / path).read_text()), \
                f"{page.relative_to(REPO)}:{line}: {note} is no test"
    print("\nnot-run shell blocks:")
    for page, line, mark, note, first in blocks:
        if mark == "not-run":
            print(f"  {page.relative_to(REPO)}:{line} `{first}`: {note}")
