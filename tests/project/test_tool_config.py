"""The project's own pytest, pylint, mypy and coverage configuration wins over mlci's defaults:
flag > MLCI_* > [tool.mlci] > the project's tool configuration > mlci's default."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.config.options import Origin
from mlci.config.settings import Settings, resolve
from mlci.project import tool_config
from mlci.session.registry import BY_NAME, Run

REPORTS = Path("reports/x")


def project(root: Path, files: dict[str, str], table: str = "") -> Settings:
    pyproject = '[project]\nname = "my-model"\nversion = "0.1"\n'
    (root / "pyproject.toml").write_text(pyproject + files.pop("pyproject.toml", "") + table)
    for name, text in files.items():
        (root / name).write_text(text)
    (root / "src" / "my_model").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    return resolve(root, environ={})


def command(settings: Settings, session: str) -> list[str]:
    return BY_NAME[session].commands(Run(settings, session, REPORTS))[-1]


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": "[tool.pylint.main]\nfail-under = 9.0\n"},
        {".pylintrc": "[MAIN]\nfail-under = 9\n"},
        {"pylintrc": "[MASTER]\nfail-under=9.0\n"},
        {"setup.cfg": "[pylint.main]\nfail-under = 9\n"},
    ],
    ids=["pyproject", ".pylintrc", "pylintrc", "setup.cfg"],
)
def test_pylints_own_fail_under_beats_mlcis_default(tmp_path: Path, files: dict[str, str]) -> None:
    source = next(iter(files))
    settings = project(tmp_path, dict(files))
    assert settings.pylint_fail_under == 9.0
    assert settings.origin("pylint-fail-under") is Origin.TOOL
    assert source in settings.sources["pylint-fail-under"].describe()
    assert "--fail-under=9" in command(settings, "lint")


def test_tool_mlci_still_beats_the_tools_own_config(tmp_path: Path) -> None:
    files = {"pyproject.toml": "[tool.pylint.main]\nfail-under = 9.0\n"}
    settings = project(tmp_path, files, "[tool.mlci]\npylint-fail-under = 7.5\n")
    assert settings.pylint_fail_under == 7.5
    assert settings.origin("pylint-fail-under") is Origin.PYPROJECT
    flagged = resolve(tmp_path, {"pylint-fail-under": "8"}, environ={})
    assert flagged.pylint_fail_under == 8.0 and flagged.origin("pylint-fail-under") is Origin.FLAG


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": "[tool.pytest.ini_options]\ntimeout = 60\n"},
        {"pytest.ini": "[pytest]\ntimeout = 60\n"},
        {"tox.ini": "[pytest]\ntimeout = 60\n"},
        {"setup.cfg": "[tool:pytest]\ntimeout = 60\n"},
    ],
    ids=["pyproject", "pytest.ini", "tox.ini", "setup.cfg"],
)
def test_pytests_own_timeout_beats_mlcis_600(tmp_path: Path, files: dict[str, str]) -> None:
    settings = project(tmp_path, dict(files))
    assert settings.test_timeout == 60 and settings.origin("test-timeout") is Origin.TOOL
    assert "--timeout=60" in command(settings, "unit")


def test_an_empty_pytest_ini_wins_as_pytest_has_it(tmp_path: Path) -> None:
    files = {"pytest.ini": "[pytest]\n", "tox.ini": "[pytest]\ntimeout = 60\n"}
    assert project(tmp_path, files).test_timeout == 600


@pytest.mark.parametrize(
    ("addopts", "expression"),
    [
        ("addopts = \"-ra -m 'not integration'\"", "(not integration) and not integ and not gpu"),
        ('addopts = ["-ra", "-m", "not network"]', "(not network) and not integ and not gpu"),
        ('addopts = ["-mnot slow"]', "(not slow) and not integ and not gpu"),
        ('addopts = "-ra"', "not integ and not gpu"),
    ],
)
def test_units_marker_expression_joins_the_projects_with_and(
    tmp_path: Path, addopts: str, expression: str
) -> None:
    settings = project(tmp_path, {"pyproject.toml": f"[tool.pytest.ini_options]\n{addopts}\n"})
    args = command(settings, "unit")
    assert args[args.index("-m") + 1] == expression


def test_the_projects_markers_name_integ_gpu_and_what_unit_leaves_out(tmp_path: Path) -> None:
    table = (
        "[tool.mlci]\ninteg-marker = 'integration'\ngpu-marker = 'cuda'\n"
        "exclude-markers = ['slow']\n"
    )
    settings = project(tmp_path, {}, table)
    (tmp_path / "tests" / "test_i.py").write_text(
        "import pytest\n\n@pytest.mark.integration\ndef test_i(): ...\n"
    )
    unit = command(settings, "unit")
    assert unit[unit.index("-m") + 1] == "not integration and not cuda and not slow"
    integ = command(settings, "integ")
    assert integ[integ.index("-m") + 1] == "integration"
    assert BY_NAME["integ"].why_nothing(settings) is None
    gpu = command(settings, "gpu")
    assert gpu[gpu.index("-m") + 1] == "cuda"
    assert BY_NAME["gpu"].why_nothing(settings) == (
        "no test under tests/ is marked cuda (@pytest.mark.cuda)"
    )


def test_a_marker_name_is_checked(tmp_path: Path) -> None:
    from mlci.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a pytest marker name"):
        project(tmp_path, {}, "[tool.mlci]\ninteg-marker = 'not integ or x'\n")


@pytest.mark.parametrize(
    ("mypy", "targets"),
    [
        ("", ["src/my_model", "tests"]),
        ("[tool.mypy]\nfiles = ['src']\n", []),
        ("[tool.mypy]\npackages = ['my_model']\n", []),
        ("[tool.mypy]\nexclude = ['^tests/']\n", ["src/my_model"]),
        ("[tool.mypy]\nexclude = '^docs/'\n", ["src/my_model", "tests"]),
    ],
)
def test_mypy_targets_are_the_projects_own_when_its_config_names_them(
    tmp_path: Path, mypy: str, targets: list[str]
) -> None:
    settings = project(tmp_path, {"pyproject.toml": mypy})
    args = command(settings, "mypy")
    assert args[1 : 1 + len(targets)] == targets and args[1 + len(targets)] == "--junit-xml"


@pytest.mark.parametrize(
    "files",
    [
        {".coveragerc": "[report]\nfail_under = 72.5\n"},
        {"setup.cfg": "[coverage:report]\nfail_under = 72.5\n"},
        {"tox.ini": "[coverage:report]\nfail_under = 72.5\n"},
        {"pyproject.toml": "[tool.coverage.report]\nfail_under = 72.5\n"},
    ],
    ids=[".coveragerc", "setup.cfg", "tox.ini", "pyproject"],
)
def test_coverages_own_fail_under_is_the_gate(tmp_path: Path, files: dict[str, str]) -> None:
    settings = project(tmp_path, dict(files))
    assert settings.coverage_fail_under == 72.5
    assert settings.origin("coverage-fail-under") is Origin.TOOL


def test_a_bad_value_in_the_tools_config_is_one_line(tmp_path: Path) -> None:
    from mlci.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        project(tmp_path, {".pylintrc": "[MAIN]\nfail-under = high\n"})
    assert err.value.problems[0].startswith("pylint-fail-under (from .pylintrc [MAIN] fail-under)")


def test_a_shard_ignores_the_projects_fail_under_the_combine_applies_it(tmp_path: Path) -> None:
    settings = project(tmp_path, {".coveragerc": "[report]\nfail_under = 95\n"})
    shard = resolve(tmp_path, environ={"MLCI_SHARD": "1/2", "MLCI_UNIT_SHARDS": "2"})
    assert "--cov-fail-under=0" in command(shard, "unit")
    assert "--cov-fail-under=0" not in command(settings, "unit")


def test_markexpr_of_reads_pytests_spellings() -> None:
    assert tool_config.markexpr_of("-m slow -m 'not slow'") == "not slow"  # the last one wins
    assert tool_config.markexpr_of("--markexpr=fast") == "fast"
    assert tool_config.markexpr_of("--maxfail=2 -ra") == ""


def test_a_fractional_pytest_timeout_is_rounded_up_not_refused(tmp_path: Path) -> None:
    settings = project(tmp_path, {"pytest.ini": "[pytest]\ntimeout = 2.5\n"})
    assert settings.test_timeout == 3 and settings.origin("test-timeout") is Origin.TOOL


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": "[tool.pylint]\nfail-under = 8.5\n"}, 8.5),  # flattened
        ({"pyproject.toml": "[tool.pylint.design]\nfail-under = 8.5\n"}, 8.5),
        ({"pylintrc.toml": "[tool.pylint.main]\nfail-under = 8.5\n"}, 8.5),
        ({"setup.cfg": "[pylint]\nfail-under = 8.5\n"}, 8.5),
    ],
)
def test_pylint_options_are_found_wherever_pylint_reads_them(
    tmp_path: Path, files: dict[str, str], expected: float
) -> None:
    assert project(tmp_path, dict(files)).pylint_fail_under == expected


@pytest.mark.parametrize(
    "files",
    [
        {".coveragerc": "[coverage:report]\nfail_under = 50\n"},
        {".coveragerc.toml": "[tool.coverage.report]\nfail_under = 50\n"},
    ],
)
def test_coverage_settings_in_its_other_spellings(tmp_path: Path, files: dict[str, str]) -> None:
    assert project(tmp_path, dict(files)).coverage_fail_under == 50


@pytest.mark.parametrize(
    "files",
    [
        {"pytest.toml": "[pytest]\naddopts = ['-m', 'not slow']\ntimeout = 30\n"},
        {"pyproject.toml": "[tool.pytest]\naddopts = ['-m', 'not slow']\ntimeout = 30\n"},
        {".pytest.ini": "[pytest]\naddopts = -m 'not slow'\ntimeout = 30\n"},
    ],
)
def test_pytest_9s_own_files_are_read(tmp_path: Path, files: dict[str, str]) -> None:
    settings = project(tmp_path, dict(files))
    args = command(settings, "unit")
    assert settings.test_timeout == 30
    assert args[args.index("-m") + 1] == "(not slow) and not integ and not gpu"
