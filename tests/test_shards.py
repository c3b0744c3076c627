"""Unit tests split over CI jobs: the legs, each shard's arguments, the combine, the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci import coverage_config, shards
from mlci.cli import main
from mlci.errors import ConfigError
from mlci.registry import BY_NAME, Run
from mlci.settings import resolve
from tests.test_planner import full_project, plan_for, problems_for


def test_each_python_gets_one_leg_per_shard_and_one_combine_job(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, python_versions="3.11,3.12", unit_shards="3")
    units = [job for job in plan.jobs if job.session.startswith("unit")]
    assert [(job.session, job.shard, job.id) for job in units] == [
        (f"unit-{python}", f"{i}/3", f"unit-{python}-shard-{i}")
        for python in ("3.11", "3.12")
        for i in (1, 2, 3)
    ]
    assert units[0].name == "unit (3.11, 1/3)"
    assert units[0].reports == "reports/unit-3.11-shard-1"
    assert units[0].durations == ".test_durations"
    assert plan.combine is not None and plan.may_skip == ()
    assert plan.combine["artifacts"] == "mlci-reports-unit-*-shard-*"
    assert plan.combine["durations-key"] == units[0].as_dict()["durations-key"]
    unsharded = plan_for(tmp_path, python_versions="3.11")
    assert unsharded.combine is None and unsharded.may_skip == ("combine",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "0 is not a shard count from 1 to 64"),
        ("65", "65 is not a shard count from 1 to 64"),
        ("two", "'two' is not a whole number"),
        ("2.5", "'2.5' is not a whole number"),
    ],
)
def test_the_shard_count_is_checked(tmp_path: Path, value: str, message: str) -> None:
    assert problems_for(tmp_path, unit_shards=value) == [f"unit-shards: {message}"]


@pytest.mark.parametrize("value", ["3/2", "0/3", "1", "a/b", "1/3/4"])
def test_a_bad_shard_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"shard \(from MLCI_SHARD\): .* is not a shard like 2/3"):
        resolve(full_project(tmp_path), environ={"MLCI_SHARD": value})


def test_a_shard_runs_its_part_split_by_durations(tmp_path: Path) -> None:
    root = full_project(tmp_path)
    settings = resolve(root, environ={"MLCI_SHARD": "2/3", "MLCI_UNIT_SHARDS": "3"})
    run = Run(settings, "unit-3.11", Path("reports/unit-3.11-shard-2"), python="3.11")
    [command] = BY_NAME["unit"].commands(run)
    assert "--splits=3" in command and "--group=2" in command
    assert "--splitting-algorithm=least_duration" in command
    assert "--durations-path=reports/unit-3.11-shard-2/durations.json" in command
    assert "--store-durations" in command and "--clean-durations" in command
    assert "--cov-config=reports/unit-3.11-shard-2/coveragerc" in command  # coverage_config.py
    assert "pytest-split>=0.10" in BY_NAME["unit"].tools(settings)

    (root / ".test_durations").write_text('{"tests/test_x.py::test_i": 1.5}')
    assert BY_NAME["unit"].prepare is not None
    BY_NAME["unit"].prepare(run)
    copy = root / "reports" / "unit-3.11-shard-2" / "durations.json"
    assert json.loads(copy.read_text()) == {"tests/test_x.py::test_i": 1.5}
    config = (root / "reports" / "unit-3.11-shard-2" / "coveragerc").read_text()
    assert "relative_files = True" in config


def test_the_combine_session_reads_every_shards_data(tmp_path: Path) -> None:
    root = full_project(tmp_path)
    settings = resolve(root, environ={"MLCI_UNIT_SHARDS": "2"})
    python = settings.main_python
    folder = Path(f"reports/coverage-{python}")
    run = Run(settings, f"coverage-{python}", folder, python=python)
    with pytest.raises(ConfigError, match="no coverage data of unit-"):
        BY_NAME["coverage"].commands(run)
    for i in (1, 2):  # as GitHub downloads them: one folder per artifact
        shard = root / "reports" / "shards" / f"mlci-reports-unit-{run.python}-shard-{i}"
        shard.mkdir(parents=True)
        (shard / ".coverage").write_text("")
        (shard / "durations.json").write_text("{}")
    combine, xml, report, durations = BY_NAME["coverage"].commands(run)
    assert combine[:3] == ["coverage", "combine", "--keep"]
    assert [Path(arg).parent.name for arg in combine[5:]] == [
        f"mlci-reports-unit-{run.python}-shard-1",
        f"mlci-reports-unit-{run.python}-shard-2",
    ]
    assert xml == [
        "coverage",
        "xml",
        f"--rcfile={folder}/coveragerc",
        f"--data-file={folder}/.coverage",
        "-o",
        f"{folder}/coverage.xml",
    ]
    assert report[:2] == ["coverage", "report"]
    assert durations[:4] == ["mlci", "merge-durations", "--output", ".test_durations"]
    assert BY_NAME["coverage"].verdict.coverage_gate


def test_merged_durations_are_the_union_of_the_shards(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text('{"t::a": 1.0, "t::b": 2.0}')
    second.write_text('{"t::c": 0.5}')
    out = tmp_path / ".test_durations"
    assert main(["merge-durations", "--output", str(out), str(first), str(second)]) == 0
    assert json.loads(out.read_text()) == {"t::a": 1.0, "t::b": 2.0, "t::c": 0.5}


def test_a_shards_unreadable_durations_are_left_out_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, truncated, wrong = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    good.write_text('{"t::a": 1.0}')
    truncated.write_text('{"t::b": 2.')
    wrong.write_text('{"t::c": "slow"}')
    out = tmp_path / ".test_durations"
    assert (
        main(["merge-durations", "--output", str(out), str(good), str(truncated), str(wrong)]) == 0
    )
    assert json.loads(out.read_text()) == {"t::a": 1.0}
    err = capsys.readouterr().err
    assert f"{truncated}: left out" in err and f"{wrong}: left out" in err


def test_the_coverage_config_keeps_the_projects_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'p'\n[tool.coverage.run]\nbranch = true\nomit = ['x.py', 'y.py']\n"
        "[tool.coverage.report]\nexclude_also = ['if TYPE_CHECKING:']\n"
    )
    path = coverage_config.write(tmp_path, tmp_path / "out")
    assert path == coverage_config.target(tmp_path, tmp_path / "out")
    import configparser

    read = configparser.ConfigParser(interpolation=None)
    read.read(path)
    assert read.get("run", "branch") == "True" and read.get("run", "relative_files") == "True"
    assert read.get("run", "omit").split() == ["x.py", "y.py"]
    assert read.get("report", "exclude_also").strip() == "if TYPE_CHECKING:"
    (tmp_path / ".coveragerc").write_text("[run]\nbranch = True\n[report]\nshow_missing = True\n")
    rc = coverage_config.write(tmp_path, tmp_path / "out")
    assert "show_missing = True" in rc.read_text() and "relative_files = True" in rc.read_text()


def test_sessions_need_nothing_beyond_nox_and_the_standard_library() -> None:
    """The kit's own noxfile imports mlci from the tree, run by `uvx nox`: nox's packages
    are all there is (tomlkit, for instance, is only for `mlci init`)."""
    import subprocess
    import sys

    code = (
        "import sys, mlci.nox_sessions; print(sorted(m for m in ('tomlkit',) if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_shard_values() -> None:
    assert shards.parse("2/3") == shards.Shard(2, 3)
    assert shards.parse("4/3") is None and shards.parse("") is None


@pytest.mark.parametrize(
    ("files", "python", "core"),
    [
        ({"pyproject.toml": "[project]\nname = 'p'\n"}, "3.12", "sysmon"),
        ({"pyproject.toml": "[project]\nname = 'p'\n"}, "3.11", None),  # no sys.monitoring
        ({"pyproject.toml": "[project]\nname = 'p'\n"}, "3.14", None),  # coverage's default
        ({"pyproject.toml": "[tool.coverage.run]\nbranch = true\n"}, "3.12", None),
        ({".coveragerc": "[run]\nbranch = True\n"}, "3.13", None),
        ({"setup.cfg": "[coverage:run]\nbranch = 1\n"}, "3.13", None),
        ({".coveragerc": "[run]\nsource = p\n"}, "3.13", "sysmon"),
    ],
)
def test_coverage_uses_sys_monitoring_where_it_measures_the_same(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    python: str,
    core: str | None,
) -> None:
    monkeypatch.delenv("COVERAGE_CORE", raising=False)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    expected = {"COVERAGE_CORE": core} if core else {}
    assert coverage_config.core(tmp_path, python) == expected
    monkeypatch.setenv("COVERAGE_CORE", "ctrace")  # the user's choice wins
    assert coverage_config.core(tmp_path, python) == {}
