"""`mlci lint-baseline`: recorded pylint messages pass wherever they move, new ones fail even
when the score stays above the floor, fixed ones leave the baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlci.cli import main

BAD = (
    '"""A module with two known problems."""\n\nimport os\n\n\n'
    'def f(x):\n    """Doc."""\n    y = 1\n    return x\n'
)


def lint(root: Path, *flags: str) -> int:
    report = root / "reports" / "pylint.json"
    report.parent.mkdir(exist_ok=True)
    pylint = [sys.executable, "-m", "pylint", f"--output-format=json2:{report}"]
    return main(
        [
            *("lint-baseline", "--baseline", str(root / "pylint-baseline.txt")),
            *("--report", str(report), *flags, "--", *pylint, "pkg"),
        ]
    )


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""Package."""\n')
    (tmp_path / "pkg" / "mod.py").write_text(BAD)
    return tmp_path


def test_known_messages_pass_where_they_moved_and_new_ones_fail(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lint(package, "--record") == 0
    recorded = (package / "pylint-baseline.txt").read_text()
    assert "pkg/mod.py: unused-import: -: Unused import os" in recorded
    assert "pkg/mod.py: unused-variable: f: Unused variable 'y'" in recorded
    source = package / "pkg" / "mod.py"
    source.write_text(BAD.replace("import os\n", "import os\n\n\nX = 1\n"))  # lines moved
    assert lint(package) == 0
    # One more problem of a kind already there: the score barely moves, the baseline sees it.
    source.write_text(source.read_text() + '\n\ndef g():\n    """Doc."""\n    z = 2\n')
    capsys.readouterr()
    assert lint(package, "--fail-under", "5") == 1
    captured = capsys.readouterr()
    assert "pkg/mod.py: unused-variable: g: Unused variable 'z'" in captured.out
    assert "1 new pylint message(s)" in captured.err


def test_a_fixed_message_leaves_the_baseline(package: Path) -> None:
    assert lint(package, "--record") == 0
    (package / "pkg" / "mod.py").write_text(BAD.replace("import os\n", ""))
    assert lint(package) == 0
    assert "unused-import" not in (package / "pylint-baseline.txt").read_text()
    assert "unused-variable" in (package / "pylint-baseline.txt").read_text()


def test_the_score_floor_still_holds_where_it_is_set(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lint(package, "--record") == 0
    assert lint(package, "--fail-under", "9.9") == 1
    assert "is under pylint-fail-under 9.9" in capsys.readouterr().err


def test_pylint_failing_itself_fails(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = package / "r.json"
    args = ["lint-baseline", "--baseline", "b.txt", "--report", str(report), "--"]
    assert main([*args, sys.executable, "-m", "pylint", "--no-such-option", "pkg"]) != 0
    assert "pylint itself failed" in capsys.readouterr().err


def test_the_lint_session_uses_it_when_a_baseline_is_set(tmp_path: Path) -> None:
    from mlci.config.settings import resolve
    from mlci.session.registry import BY_NAME, Run

    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'pkg'\n[tool.mlci]\npylint-baseline = 'pylint-baseline.txt'\n"
    )
    (tmp_path / "pkg").mkdir()
    settings = resolve(tmp_path, environ={})
    [command] = BY_NAME["lint"].commands(Run(settings, "lint", Path("reports/lint")))
    assert command[:3] == ["mlci", "lint-baseline", "--baseline"]
    assert "--fail-under" not in command  # no floor unless one was set
    assert command[command.index("--") + 1] == "pylint" and "--exit-zero" not in command


def test_a_file_pylint_cannot_parse_is_never_a_known_problem(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (package / "pkg" / "broken.py").write_text("def f(:\n")
    assert lint(package, "--record") == 1
    assert "pkg/broken.py: syntax-error" in capsys.readouterr().out
    assert not (package / "pylint-baseline.txt").exists()


def test_a_narrowed_run_keeps_the_entries_it_did_not_check(package: Path) -> None:
    assert lint(package, "--record") == 0
    before = (package / "pylint-baseline.txt").read_text()
    report = package / "reports" / "pylint.json"
    pylint = [sys.executable, "-m", "pylint", f"--output-format=json2:{report}", "--disable=W"]
    args = ["lint-baseline", "--baseline", str(package / "pylint-baseline.txt")]
    assert main([*args, "--report", str(report), "--narrowed", "--", *pylint, "pkg"]) == 0
    assert (package / "pylint-baseline.txt").read_text() == before
