"""The console script's entry: light imports and a quiet Ctrl-C while loading."""

import subprocess
import sys
import types

import pytest


def test_ctrl_c_while_loading_exits_130_without_traceback(monkeypatch, capsys):
    from gridres.__main__ import main

    class Interrupting(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "gridres.cli", Interrupting("gridres.cli"))
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 130
    err = capsys.readouterr().err
    assert err == "error: interrupted\n"


@pytest.mark.slow
def test_import_gridres_is_light():
    """``import gridres`` loads no engine module until a name is used."""
    code = ("import sys, gridres; heavy = [m for m in ('numpy', 'pandas', 'gridres.impact') "
            "if m in sys.modules]; print(heavy); gridres.assess; print('gridres.impact' in "
            "sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"


def test_python_m_gridres_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "gridres", "--version"], capture_output=True,
                         text=True, check=True)
    assert "0.1.0" in out.stdout


@pytest.mark.slow
def test_a_command_imports_only_its_own_module():
    """`gridres info` starts without importing the other commands (their engines, the
    report); `--help` still lists every command."""
    code = ("import sys; from gridres.cli import main\n"
            "try:\n    main(['info', 'ieee14', '--json'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('gridres.cli.')), "
            "'gridres.report' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stderr.strip().splitlines()[-1] == "['gridres.cli.common', 'gridres.cli.info'] False"
    from gridres.cli import cli

    names = cli.list_commands(None)
    assert {"info", "contingency", "ensemble", "validate", "run"} <= set(names)
    assert all(cli.get_command(None, n).name == n for n in names)
