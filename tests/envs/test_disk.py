"""Disk before installing, and caches against the budget: clear lines, early."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from mlci.envs import disk
from tests.ci.test_planner import plan_for

Usage = namedtuple("Usage", "total used free")


def test_too_little_disk_for_a_cuda_build_is_one_line_before_installing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        shutil, "disk_usage", lambda _: Usage(100 * disk.GB, 97 * disk.GB, 3 * disk.GB)
    )
    line = disk.check_free(tmp_path / "envs" / "py3.12-cu128", "cu128")
    assert line == (
        f"3.0 GB free on the disk of {tmp_path}, a CUDA build needs about 6.0 GB: free some space"
        " first (on a GitHub-hosted runner, remove preinstalled toolchains)"
    )
    assert disk.check_free(tmp_path, "cpu") is None  # 3 GB is enough for a CPU environment


def test_a_session_stops_before_installing_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlci.envs.environments import environment_for
    from mlci.session import nox_sessions

    monkeypatch.setattr(shutil, "disk_usage", lambda _: Usage(10 * disk.GB, 10 * disk.GB, disk.MB))
    ran: list[str] = []

    class Stop(Exception):
        pass

    class Session:
        def log(self, *args: object) -> None: ...

        def error(self, *args: object) -> None:
            raise Stop(" ".join(map(str, args)))

        def run_install(self, *args: str, **kwargs: object) -> None:
            ran.append(args[0])

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    from mlci.config.settings import resolve
    from mlci.envs import install

    settings = resolve(tmp_path, environ={})
    environment = environment_for(tmp_path / "envs", "3.11", "cpu")
    request = install.request(settings, "none", (), tmp_path / "cache")
    with pytest.raises(Stop, match=r"installing into py3.11-cpu: 1 MB free on the disk of"):
        nox_sessions._install(Session(), settings, environment, request)  # type: ignore[arg-type]
    assert ran == []  # nothing was installed


def test_the_plan_adds_up_the_caches_and_warns_over_the_budget(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, python_versions="3.10,3.11,3.12,3.13", cache_budget_gb="1")
    [warning] = [w for w in plan.warnings if w.startswith("caches:")]
    assert warning.startswith("caches: this call's uv caches come to about 1.6 GB in 4 entries,")
    assert "over cache-budget-gb 1" in warning
    assert {leg.as_dict()["cache-mb"] for leg in plan.jobs} == {400}
    roomy = plan_for(tmp_path, python_versions="3.10,3.11,3.12,3.13")
    assert not [w for w in roomy.warnings if w.startswith("caches:")]
