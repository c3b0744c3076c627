"""One validation for every entry point: nox (the noxfile), `mlci sessions` and `mlci plan`
give the same outcome and the same one-line message for each bad setting."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.compat import load
from mlci.session import nox_sessions

NEWEST = load().newest


def project(root: Path, table: str, extra: str = "") -> Path:
    """A project where lint, mypy and unit have something to check."""
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    pythons = "" if "python-versions" in table else "python-versions = ['3.11']\n"
    (root / "pyproject.toml").write_text(
        f"[project]\nname = 'my-model'\n{extra}\n[tool.mlci]\n{pythons}{table}"
    )
    return root


def outside_link(root: Path) -> None:
    (root.parent / "elsewhere").mkdir()
    (root / "link").symlink_to(root.parent / "elsewhere")


CASES: list[tuple[str, str, str, Callable[[Path], None] | None, str]] = [
    (
        "cuda build for cpu sessions",
        "torch-backend = 'cu126'\n",
        "",
        None,
        "torch-backend: cu126 is a CUDA build; CPU sessions use cpu (CUDA builds go in"
        " gpu-backends)",
    ),
    (
        "missing dependency group",
        "dependency-groups = ['docs']\n",
        "",
        None,
        "dependency-groups: 'docs' is not a [dependency-groups] entry of pyproject.toml"
        " (it has none)",
    ),
    (
        "missing extra",
        "extras = ['gpu']\n",
        "[project.optional-dependencies]\ncli = []\n",
        None,
        "extras: 'gpu' is not an extra of the project (it has cli)",
    ),
    (
        "a listed session with nothing to check",
        "sessions = ['unit', 'nbmake']\n",
        "",
        None,
        "nbmake: nothing to check: no notebooks under notebooks/ (set notebooks) (or leave it out"
        " of sessions)",
    ),
    (
        "a folder outside the project",
        "tests-dir = 'link'\n",
        "",
        outside_link,
        "tests-dir: link leads outside the project",
    ),
    (
        "a python requires-python excludes",
        "",
        "requires-python = '>=3.12'\n",
        None,
        "python-versions: 3.11 is excluded by requires-python >=3.12 in pyproject.toml",
    ),
    (
        "a python torch has no build for",
        "python-versions = ['3.9']\n",
        "",
        None,
        f"python-versions: 3.9 is not available for torch {NEWEST.version}",
    ),
    (
        "plain http torch index",
        "torch-index = 'http://user:pw@mirror.example/simple'\n",
        "",
        None,
        "torch-index: http://***@mirror.example/simple is plain http",
    ),
    (
        "unknown key",
        "covrage = 80\n",
        "",
        None,
        "[tool.mlci] unknown key 'covrage' (did you mean coverage-fail-under?)",
    ),
]


@pytest.mark.parametrize(
    ("table", "extra", "setup", "message"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_every_entry_point_gives_the_same_one_line(
    tmp_path: Path,
    table: str,
    extra: str,
    setup: Callable[[Path], None] | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [key for key in os.environ if key.startswith("MLCI_")]:
        monkeypatch.delenv(name)
    root = project(tmp_path / "p", table, extra)
    if setup is not None:
        setup(root)
    monkeypatch.chdir(root)

    with pytest.raises(SystemExit) as noxfile:
        nox_sessions.sessions(root)  # what `nox -l` runs first
    from_nox = capsys.readouterr().err
    from_sessions = (main(["sessions"]), capsys.readouterr().err)
    from_plan = (main(["plan"]), capsys.readouterr().err)

    assert noxfile.value.code == from_sessions[0] == from_plan[0] == 2
    for err in (from_nox, from_sessions[1], from_plan[1]):
        lines = [line for line in err.splitlines() if line.startswith("mlci: error: ")]
        assert any(line.startswith(f"mlci: error: {message}") for line in lines), err
        assert "Traceback" not in err
        assert "pw@" not in err


def test_an_unset_session_list_leaves_out_what_has_nothing_to_check_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", "")
    monkeypatch.chdir(root)
    assert main(["sessions", "--json"]) == 0
    left_out = capsys.readouterr().out
    assert main(["plan", "--format", "json"]) == 0
    plan = capsys.readouterr().out
    for name in ("integ", "nbmake", "gpu"):
        assert f'"{name}": "no ' in left_out and f'"{name}": "no ' in plan
