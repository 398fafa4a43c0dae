"""The documentation is executed: every ``>>>`` example on every page of ``docs/`` runs, in
the order of the page, and must print exactly what the page shows. So every number in the
tutorial is the code's own, checked on every test run.

Only the bodies of ```` ```python ```` blocks run (``doctest`` rules: an example's expected
output ends at a blank line or the next ``>>>``); shell and TOML blocks are shown, not run.
A page runs in a fresh temporary working folder, so what it writes stays there.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
#: A fenced block: the language after the opening fence, and the body.
FENCE = re.compile(r"^```[ \t]*([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
RUN = {"python", "pycon"}
SHOWN = {"sh", "console", "toml", "text", "yaml"}


def runnable(text: str) -> str:
    """``text`` with every line outside the bodies of Python blocks blanked: doctest's line
    numbers are then the page's."""
    lines = [""] * (text.count("\n") + 1)
    for block in FENCE.finditer(text):
        if block[1] in RUN:
            first = text.count("\n", 0, block.start(2))
            for k, line in enumerate(block[2].splitlines()):
                lines[first + k] = line
    return "\n".join(lines)


class ExactOutput(doctest.OutputChecker):
    """Output must match character for character, except blanks at the end of a line
    (pandas pads its tables with them; editors strip them from pages)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        def trim(text: str) -> str:
            return "".join(line.rstrip() + "\n" for line in text.splitlines())

        return super().check_output(trim(want), trim(got), optionflags)


def run_page(page: Path) -> tuple[doctest.TestResults, str]:
    test = doctest.DocTestParser().get_doctest(runnable(page.read_text()),
                                              {"__name__": page.stem}, page.name, str(page), 0)
    report: list[str] = []
    runner = doctest.DocTestRunner(checker=ExactOutput())
    result = runner.run(test, out=report.append, clear_globs=True)
    return result, "".join(report)


def test_the_runner_fails_a_page_whose_numbers_are_wrong(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("Text with >>> 1 + 1 in it is not run.\n\n```python\n>>> 1 + 1\n2\n```\n\n"
                    "```sh\n$ gridres grids\n```\n\n```python\n>>> x = 40\n\n>>> x + 2\n43\n```\n")
    result, report = run_page(page)
    assert (result.attempted, result.failed) == (3, 1)
    assert f'File "{page}", line 15' in report and "Expected:\n    43\nGot:\n    42" in report


def test_docs_exist_and_every_python_block_is_run() -> None:
    assert {p.name for p in PAGES} >= {"index.md", "tutorial.md", "studies.md"}
    for page in PAGES:
        for block in FENCE.finditer(page.read_text()):
            assert block[1] in RUN | SHOWN, f"{page.name}: a ```{block[1]} block"
            if block[1] in RUN:
                assert block[2].lstrip().startswith(">>>"), \
                    f"{page.name}: a Python block that does not run:\n{block[2][:200]}"


#: Pages that run a whole study and write its report: seconds, so slow.
WHOLE_RUNS = {"studies.md"}


@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.slow)
                                  if p.name in WHOLE_RUNS else p for p in PAGES],
                         ids=lambda p: p.name)
def test_page_prints_what_it_shows(page: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result, report = run_page(page)
    assert result.failed == 0, report


def test_the_site_lists_every_page_and_the_readme_links_the_tutorial() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    nav = set(re.findall(r"^\s+- [^:\n]+: (\S+\.md)$", config, re.M))
    assert nav == {p.name for p in PAGES}
    readme = (ROOT / "README.md").read_text()
    assert "](docs/tutorial.md)" in readme and "](docs/studies.md)" in readme
