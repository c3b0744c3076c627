"""The `mlci` command against the hostile-input table: every CI input, every hostile value."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config.options import Option
from tests.hostile import CI_OPTIONS, payloads

CASES = [(option, kind) for option in CI_OPTIONS for kind in payloads(Path("marker"))]


@pytest.mark.parametrize(
    ("option", "kind"), CASES, ids=[f"{option.name}-{kind}" for option, kind in CASES]
)
def test_each_hostile_value_is_rejected_naming_the_input_and_never_runs(
    option: Option,
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    marker = tmp_path / "marker"
    value = payloads(marker)[kind]
    for other in CI_OPTIONS:
        monkeypatch.delenv(other.env_var, raising=False)
    monkeypatch.setenv(option.env_var, value)
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "plan.env"

    code = main(["plan", "--format", "github", "--output", str(output)])

    err = capsys.readouterr().err
    assert code == 2, f"{option.name} accepted {value[:80]!r}"
    assert f"{option.name} (from {option.env_var}):" in err
    assert "Traceback" not in err
    assert not marker.exists()
    assert not output.exists() or "MLCI_INJECTED" not in output.read_text()


@pytest.mark.parametrize("kind", list(payloads(Path("marker"))))
def test_every_input_hostile_at_once_is_named_in_one_run(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the CI front ends see when one attacker-controlled value feeds every input."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    marker = tmp_path / "marker"
    for option in CI_OPTIONS:
        monkeypatch.setenv(option.env_var, payloads(marker)[kind])
    monkeypatch.chdir(tmp_path)

    assert main(["plan", "--format", "github", "--output", str(tmp_path / "plan.env")]) == 2

    err = capsys.readouterr().err
    for option in CI_OPTIONS:
        assert f"{option.name} (from {option.env_var}):" in err, option.name
    assert not marker.exists() and not (tmp_path / "plan.env").exists()
