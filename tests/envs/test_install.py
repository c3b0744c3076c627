"""What a session installs: the project's own requirement of a test tool wins over mlci's
lower bound (a pin such as pytest-cov<5 used to clash with mlci's pytest-cov>=6)."""

from __future__ import annotations

from pathlib import Path

from mlci.config.settings import resolve
from mlci.envs import install

TOOLS = ("pytest>=8", "pytest-timeout>=2.3", "pytest-cov>=6")


def test_a_tool_the_project_pins_is_installed_as_the_project_says(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'p'\nversion = '0.1'\n"
        "[dependency-groups]\ntest = ['pytest_cov>4.0,<5.0']\n"
        "[tool.mlci]\ntorch-backend = 'none'\ndependency-groups = ['test']\n"
        "requirements = ['requirements-dev.txt']\n"
    )
    (tmp_path / "requirements-dev.txt").write_text("# tools\n-r other.txt\npytest-timeout==2.2.0\n")
    settings = resolve(tmp_path, environ={})
    made = install.request(settings, "none", TOOLS, tmp_path / ".cache")
    assert "pytest>=8" in made.args  # the project does not name pytest: mlci's floor
    assert "pytest-cov>=6" not in made.args and "pytest-timeout>=2.3" not in made.args
    assert made.follows.endswith("; pytest-cov, pytest-timeout as the project requires")


def test_without_a_pin_of_its_own_mlcis_floors_apply(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'p'\nversion = '0.1'\ndependencies = ['numpy']\n"
        "[tool.mlci]\ntorch-backend = 'none'\n"
    )
    made = install.request(resolve(tmp_path, environ={}), "none", TOOLS, tmp_path / ".cache")
    assert all(tool in made.args for tool in TOOLS)
    assert "as the project requires" not in made.follows


def test_a_failure_never_names_mlcis_internal_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0.1'\n")
    made = install.request(resolve(tmp_path, environ={}), "none", TOOLS, tmp_path / ".cache")
    output = (
        f"  {install.UV_CROSS} No solution found when resolving dependencies:\n"
        "  ╰─▶ Because mlci-torch-source depends on torch and you require torch<0, we can"
        " conclude that your requirements are unsatisfiable.\n"
    )
    reason = install.failure_reason(output, made)
    assert "mlci-torch-source" not in reason
    assert (
        "Because mlci's session install (torch from the job's index, its tools) depends" in reason
    )
