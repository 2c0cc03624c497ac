"""The hand-written pages of the documentation site: every shell block is marked as run by a test
(`<!-- run: tests/PATH::TEST -->`, and that test exists) or not run (`<!-- not-run: reason -->`) on the
line before it; the not-run ones are listed (-rA or the test's stdout) so what a reader may copy untested
is known. Generated pages (tools/gen_reference.py) are not written by hand and hold no such block.

README.md is the front page, not the manual (issue 31): at most 200 lines, and every relative link in it
points to a file of the repository, so the links into docs/ work on GitHub as on the site."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: the hand-written pages this check covers (DESIGN.md, DEVIATIONS.md and study_engines.md are notes
#: kept beside the site, linked from it)
PAGES = ["index.md", "tutorials", "how-to", "explanation", "results"]
README = REPO / "README.md"
README_MAX_LINES = 200
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
            line = line.lstrip()  # a fence may be indented (inside a list item)
            if line.startswith("```"):
                if not inside and line[3:].strip() in SHELL:
                    match = MARK.match(lines[i - 1].strip()) if i else None
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


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, \
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the details to a page under docs/"


#: [text](target) and ![alt](target); the target up to a space (a title) or the closing parenthesis
LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s[^)]*)?\)")


def readme_links() -> list[str]:
    """The link targets of README.md, outside code blocks and code spans."""
    text, inside = [], False
    for line in README.read_text().splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            text.append(re.sub(r"`[^`]*`", "", line))
    return LINK.findall("\n".join(text))


def test_readme_relative_links_point_to_files():
    links = readme_links()
    relative = [t for t in links if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]
    assert len(relative) >= 10, f"too few relative links found in README.md: {relative}"
    missing = [t for t in relative if not (REPO / t.split("#")[0]).is_file()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
    # the site copies README.md as readme.md with docs/ stripped from the links (tools/gen_reference.py):
    # a link outside docs/ would be broken there
    outside = [t for t in relative if not t.startswith("docs/")]
    assert not outside, f"README.md links outside docs/, which the site's copy cannot resolve: {outside}"
    anchors = [t for t in links if t.startswith("#")]
    headings = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", README.read_text(), flags=re.M)}
    assert not [a for a in anchors if a[1:] not in headings], f"README.md anchors without a heading: {anchors}"
