"""Coverage that follows the processes tests start (DDP ranks): the subprocess patch added to
the project's own coverage settings, only where it applies; helper processes' empty data
files removed."""

from __future__ import annotations

import configparser
import warnings
from pathlib import Path

import coverage

from mlci.config.settings import resolve
from mlci.project.snapshot import Project
from mlci.session import coverage_config
from mlci.session.registry import BY_NAME, Run, follows_subprocesses


def project(root: Path, test: str, more: str = "") -> Path:
    (root / "src" / "p").mkdir(parents=True)
    (root / "src" / "p" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text(test)
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'p'\n[tool.coverage.run]\nbranch = true\npatch = ['_exit']\n" + more
    )
    return root


DDP_TEST = "import pytest\n\n@pytest.mark.distributed\ndef test_ranks(): ...\n"


def test_the_patch_joins_the_projects_own(tmp_path: Path) -> None:
    root = project(tmp_path, DDP_TEST)
    path = coverage_config.write(
        Project.load(root).tools, tmp_path / "out", relative=False, subprocesses=True
    )
    read = configparser.ConfigParser(interpolation=None)
    read.read(path)
    assert read.get("run", "patch").split() == ["_exit", "subprocess"]
    assert read.get("run", "branch") == "True" and not read.has_option("run", "relative_files")


def test_unit_follows_subprocesses_only_with_distributed_tests_and_without_xdist(
    tmp_path: Path,
) -> None:
    with_ddp = resolve(project(tmp_path / "a", DDP_TEST), environ={})
    plain = resolve(project(tmp_path / "b", "def test_x(): ...\n"), environ={})
    xdist = resolve(project(tmp_path / "c", DDP_TEST), environ={"MLCI_XDIST_WORKERS": "2"})
    assert follows_subprocesses(with_ddp)
    assert not follows_subprocesses(plain) and not follows_subprocesses(xdist)
    run = Run(with_ddp, "unit-3.11", Path("reports/unit-3.11"), (), "3.11")
    [pytest_command, *_] = BY_NAME["unit"].commands(run)
    assert "--cov-config=reports/unit-3.11/coveragerc" in pytest_command
    assert BY_NAME["unit"].prepare is not None
    BY_NAME["unit"].prepare(run)
    written = (with_ddp.root / "reports" / "unit-3.11" / "coveragerc").read_text()
    assert "subprocess" in written
    plain_run = Run(plain, "unit-3.11", Path("reports/unit-3.11"), (), "3.11")
    assert not [a for a in BY_NAME["unit"].commands(plain_run)[0] if "--cov-config" in a]


def test_empty_parallel_data_files_are_removed_and_measured_ones_kept(tmp_path: Path) -> None:
    data = tmp_path / "coverage.data"
    # What a process that measured nothing saves (as the resource tracker's does).
    idle = coverage.Coverage(data_file=f"{data}.host.pid1.abc")
    idle.start()
    idle.stop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No data was collected": the point
        idle.save()
    measured = coverage.CoverageData(f"{data}.host.pid2.def")
    measured.add_lines({str(tmp_path / "x.py"): [1, 2]})
    measured.write()
    removed = coverage_config.drop_empty_parallel_data(data)
    assert [p.name for p in removed] == ["coverage.data.host.pid1.abc"]
    assert Path(f"{data}.host.pid2.def").is_file()
