"""README.md and docs/*.md link only to files inside the repository: whoever clones it can
follow every relative link (a link to ../shared/DESIGN.md or to an ignored file cannot be)."""

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Inline links and images `[text](target "title")`, and reference definitions `[name]: target`.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.I)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _repository_files() -> set[Path]:
    """Files git tracks, and new ones it would track (not ignored), as absolute paths."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {(ROOT / name).resolve() for name in listed.split("\0") if name}


def relative_links(text: str) -> list[str]:
    """Every relative link target of a Markdown text, outside code, without its #fragment."""
    prose = CODE.sub("", text)
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    return [unquote(t.split("#", 1)[0]) for t in targets if not EXTERNAL.match(t)]


def test_the_link_finder_sees_every_kind_of_relative_link() -> None:
    text = (
        'See [the design](../shared/DESIGN.md), ![a chart](docs/chart.png "Chart"),\n'
        "[a section](docs/performance.md#the-refresh), [web](https://example.com), [top](#top),\n"
        "`[not a link](in/code.md)` and [mail](mailto:a@example.com).\n\n"
        "```\n[nor this](in/a/block.md)\n```\n"
        "[ref]: bench/results/published/\n"
    )
    assert relative_links(text) == [
        "../shared/DESIGN.md",
        "docs/chart.png",
        "docs/performance.md",
        "bench/results/published/",
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_no_path_written_as_code_leaves_the_repository(document: Path) -> None:
    """Paths in code spans are written from the repository's root; none may start above it."""
    spans = re.findall(r"`([^`\n]+)`", document.read_text(encoding="utf-8"))
    outside = [span for span in spans if span.startswith("../")]
    assert not outside, (
        f"{document.relative_to(ROOT)} names files outside the repository: {outside}"
    )


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_point_to_files_in_the_repository(document: Path) -> None:
    files = _repository_files()
    folders = {
        folder for path in files for folder in path.parents if ROOT in (folder, *folder.parents)
    }
    broken = []
    for target in relative_links(document.read_text(encoding="utf-8")):
        path = (document.parent / target).resolve() if target else document.resolve()
        if path not in files and path not in folders:
            broken.append(target)
    assert not broken, f"{document.relative_to(ROOT)} links outside the repository: {broken}"
