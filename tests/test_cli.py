from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import mlci
from mlci.cli import main
from mlci.docs import BEGIN, END, readme_block
from mlci.options import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
WriteProject = Callable[..., Path]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlci {mlci.__version__}"


def test_help_lists_commands_and_precedence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for word in ("sessions", "doctor", "options", "MLCI_<NAME>"):
        assert word in out


def test_sessions_shows_commands_and_sources(
    write_project: WriteProject, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project("python-versions = ['3.11', '3.12']\n")
    (root / "src" / "my_model").mkdir(parents=True)
    monkeypatch.setenv("MLCI_COVERAGE_FAIL_UNDER", "66")
    assert main(["sessions", "--project", str(root), "--json", "--xdist-workers", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [row["session"] for row in data["sessions"]]
    assert names == ["lint", "mypy", "unit-3.11", "unit-3.12", "integ", "nbmake", "gpu"]
    unit = data["sessions"][2]
    assert unit["reports"] == "reports/unit-3.11"
    assert "--cov-fail-under=66" in unit["commands"][0] and "-n 2" in unit["commands"][0]
    nbmake = data["sessions"][5]
    assert nbmake["commands"][0].startswith("(cannot run: nbmake: no notebooks")
    assert data["settings"]["coverage-fail-under"] == {
        "value": 66.0,
        "source": "env MLCI_COVERAGE_FAIL_UNDER",
    }
    assert data["settings"]["xdist-workers"] == {"value": "2", "source": "flag"}

    assert main(["sessions", "--project", str(root)]) == 0
    text = capsys.readouterr().out
    assert "unit-3.12" in text and "[only when asked]" in text


def test_user_mistakes_are_one_line_without_traceback(write_project: WriteProject) -> None:
    root = write_project("coverage = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "mlci.cli", "sessions", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("mlci: error: [tool.mlci] unknown key 'coverage'")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_doctor_json_and_require_gpu_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--json", "--require-gpu"])
    data = json.loads(capsys.readouterr().out)
    if data["problems"]:  # a machine without a usable GPU (these CI machines)
        assert code == 1
        assert any(
            "no CUDA device visible" in p or "CPU build" in p or "not installed" in p
            for p in data["problems"]
        )
    else:
        assert code == 0
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out.startswith(f"mlci     {mlci.__version__}")


def test_options_json_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["options", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["name"] for item in listed] == [option.name for option in OPTIONS]


def test_readme_options_table_is_generated_from_the_options() -> None:
    readme = (ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme, "README lacks the generated options table"
    current = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert current == readme_block(), "README options table is stale: paste `mlci options`"


def test_import_mlci_does_not_load_nox_or_torch() -> None:
    code = (
        "import sys, mlci, mlci.cli, mlci.settings;"
        " print(sorted(m for m in ('nox', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
