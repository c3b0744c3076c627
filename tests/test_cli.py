from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import mlci
from mlci.cli import main
from mlci.config.option_table import OPTIONS
from mlci.docs import readme_blocks

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
    (root / "tests").mkdir()
    (root / "tests" / "test_gpu.py").write_text(
        "import pytest\npytestmark = pytest.mark.gpu\n\ndef test_g(): ...\n"
    )
    monkeypatch.setenv("MLCI_TEST_TIMEOUT", "66")
    assert main(["sessions", "--project", str(root), "--json", "--xdist-workers", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [row["session"] for row in data["sessions"]]
    # Nothing to check for integ and nbmake here: left out, each with its reason.
    assert names == ["lint", "mypy", "unit-3.11", "unit-3.12", "gpu"]
    assert data["left-out"] == {
        "integ": "no test under tests/ is marked integ (@pytest.mark.integ)",
        "nbmake": "no notebooks under notebooks/ (set notebooks)",
    }
    unit = data["sessions"][2]
    assert unit["reports"] == "mlci-reports/unit-3.11"
    assert "--timeout=66" in unit["commands"][0] and "-n 2" in unit["commands"][0]
    assert data["settings"]["test-timeout"] == {
        "value": 66,
        "source": "environment (MLCI_TEST_TIMEOUT)",
    }
    assert data["settings"]["xdist-workers"] == {"value": "2", "source": "flag or CI input"}
    assert data["installs"].startswith("pyproject.toml, resolved afresh; torch cpu from")

    assert main(["sessions", "--project", str(root)]) == 0
    text = capsys.readouterr().out
    assert "unit-3.12" in text and "[only when asked]" in text
    assert "nbmake       left out: no notebooks under notebooks/" in text


def test_sessions_never_prints_index_credentials(
    write_project: WriteProject, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLCI_TORCH_INDEX", raising=False)  # CI machines set one
    root = write_project("torch-index = 'https://ci:s3cret@mirror.example/simple'\n")
    (root / "src" / "my_model").mkdir(parents=True)
    assert main(["sessions", "--project", str(root)]) == 0
    assert main(["sessions", "--project", str(root), "--json"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "https://***@mirror.example/simple" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--python-versions", "3.9", "--python-versions", "3.12"],
        ["plan", "--python-ver", "3.12"],  # an abbreviation
        ["sessions", "--proj", "."],
    ],
    ids=["repeated flag", "abbreviated flag", "abbreviated option"],
)
def test_repeated_and_abbreviated_flags_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "is given more than once" in err or "unrecognized arguments" in err


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


def test_readme_tables_are_generated_from_the_option_table_and_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    for (begin, end), text in readme_blocks().items():
        assert begin in readme and end in readme, f"README lacks {begin}"
        current = readme[readme.index(begin) + len(begin) : readme.index(end)]
        assert current.strip() == text, f"README table {begin} is stale: `python -m mlci.docs`"


def test_import_mlci_does_not_load_nox_or_torch() -> None:
    code = (
        "import sys, mlci, mlci.cli, mlci.config.settings;"
        " print(sorted(m for m in ('nox', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_docs_command_rewrites_only_the_generated_blocks(tmp_path: Path) -> None:
    from mlci import docs

    readme = tmp_path / "README.md"
    blocks = "".join(f"{begin}\nstale\n{end}\n" for begin, end in docs.readme_blocks())
    readme.write_text(f"# Title\n{blocks}tail\n")
    docs.main([str(readme)])
    text = readme.read_text()
    assert text.startswith("# Title\n") and text.endswith("tail\n") and "stale" not in text
    assert docs.options_table() in text and docs.sessions_table() in text
    with pytest.raises(ValueError, match="the README lacks"):
        docs.update("no markers")
