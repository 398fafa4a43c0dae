"""The README's Python API runs as written: its python blocks are executed in order, in
one namespace, from the repository's root (what they write goes to out/, which git
ignores)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _api_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_python_api_section_has_the_promised_blocks() -> None:
    code = "\n".join(_api_blocks())
    for call in ("load_grid(", ".fail(", "assess(", "n_minus_1(", "compare(",
                 "run_ensemble(", "run_study(", "write_report("):
        assert call in code, call


@pytest.mark.slow
def test_readme_python_api_runs(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in _api_blocks():
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "MW lost" in out and "half of the lost load back after" in out
    assert Path(namespace["res"].files["report.html"]).is_file()
    assert namespace["same"].shed_total_mw > 0  # the outage of the first block loses load
