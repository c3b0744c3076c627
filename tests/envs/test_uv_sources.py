"""Projects that name their own torch index (uv's PyTorch guide), and uv workspaces: what the
session install makes of them. Pure functions, plus uv where only uv can say (offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlci.config import settings
from mlci.envs import install, torch_source, uv_cache, uv_sources
from mlci.errors import ConfigError
from mlci.project.snapshot import Project
from mlci.project.workspace import find as find_workspace
from tests.torch_setups import FORMS, INDEXES, PYTORCH, write_project

BACKENDS = ("cpu", "cu124", "cu126", "cu128")


@pytest.fixture(autouse=True)
def _no_user_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UV_INDEX", "UV_INDEX_PYTORCH_CU128_USERNAME", "UV_INDEX_PYTORCH_CU128_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def request(root: Path, backend: str, environ: dict[str, str]) -> install.InstallRequest:
    found = settings.resolve(root, environ=environ)
    return install.request(found, backend, (), root / ".cache")


def uv_index(environment: dict[str, str]) -> dict[str, str]:
    """The named entries of a UV_INDEX value, as uv reads them."""
    entries = (entry.partition("=") for entry in environment.get("UV_INDEX", "").split())
    return {name: url for name, _, url in entries}


@pytest.mark.parametrize("form", FORMS)
def test_each_form_of_the_guide_names_its_torch_indexes(tmp_path: Path, form: str) -> None:
    write_project(tmp_path, form)
    assert uv_sources.torch_indexes(Project.load(tmp_path)) == INDEXES[form]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", FORMS)
def test_the_jobs_torch_index_replaces_the_projects_on_every_leg(
    tmp_path: Path, form: str, backend: str
) -> None:
    """Each index the project names for torch is renamed onto the job's torch index, unless it
    already is that index (the cu128 leg of a project naming cu128: left explicit)."""
    write_project(tmp_path / "project", form, mlci="extras = ['cpu']\n" * (form == "extras"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / f"torch-2.13.0+{backend}-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    for environ in ({}, {"MLCI_TORCH_INDEX": str(wheels)}):
        made = request(tmp_path / "project", backend, environ)
        assert made.source is not None
        job = made.source.index_url
        expected = {name: job for name, url in INDEXES[form].items() if url != job}
        assert uv_index(made.environment) == expected
        assert ("replaced by the job's" in made.follows) is bool(expected)


def test_other_sources_and_indexes_stay_the_projects(tmp_path: Path) -> None:
    more = (
        'helper = { path = "helper" }\n'
        'private-lib = { index = "private" }\n'
        'tool = { git = "https://example.com/tool.git" }\n\n'
        '[[tool.uv.index]]\nname = "private"\nurl = "https://pypi.internal/simple"\n'
    )
    root = write_project(tmp_path, "marker")
    text = (root / "pyproject.toml").read_text()
    marker = '[[tool.uv.index]]\nname = "pytorch-cu128"'
    (root / "pyproject.toml").write_text(text.replace(marker, more + "\n" + marker))
    assert uv_sources.torch_indexes(Project.load(root)) == INDEXES["marker"]
    made = request(root, "cpu", {})
    assert uv_index(made.environment) == {"pytorch-cu128": f"{PYTORCH}/cpu"}


def test_the_users_own_uv_index_entries_are_kept(tmp_path: Path) -> None:
    source = torch_source.resolve("cpu", "", tmp_path)
    assert source is not None
    user = "private=https://pypi.internal/simple pytorch-cu128=https://m/cu128 https://x/simple"
    found = uv_sources.index_environment(("pytorch-cu128",), source, {"UV_INDEX": user})
    # uv takes the first entry of a name: the job's must be the only one of its name.
    assert found["UV_INDEX"].split() == [
        "private=https://pypi.internal/simple",
        "https://x/simple",
        f"pytorch-cu128={PYTORCH}/cpu",
    ]


def test_the_jobs_credentials_go_under_every_replaced_name(tmp_path: Path) -> None:
    source = torch_source.resolve("cpu", "https://ci:s3cret@mirror.example/simple", tmp_path)
    assert source is not None
    found = uv_sources.index_environment(("pytorch-cpu", "pytorch-cu124"), source, {})
    assert found["UV_INDEX_PYTORCH_CU124_USERNAME"] == "ci"
    assert found["UV_INDEX_PYTORCH_CPU_PASSWORD"] == "s3cret"
    assert "s3cret" not in found["UV_INDEX"]


def test_credentials_meant_for_the_projects_index_never_go_to_the_jobs(tmp_path: Path) -> None:
    environ = {"UV_INDEX_PYTORCH_CU128_PASSWORD": "s3cret"}
    source = torch_source.resolve("cpu", "", tmp_path)
    assert source is not None
    with pytest.raises(ConfigError) as err:
        uv_sources.index_environment(("pytorch-cu128",), source, environ)
    assert "UV_INDEX_PYTORCH_CU128_PASSWORD" in str(err.value) and "s3cret" not in str(err.value)
    # A local index is read from disk: no credentials go anywhere.
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    local = torch_source.resolve("cpu", str(tmp_path / "w"), tmp_path)
    assert local is not None
    assert uv_sources.index_environment(("pytorch-cu128",), local, environ)["UV_INDEX"]


def test_a_folder_index_serves_the_torch_family_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renamed onto a project's index, it is an ordinary index to uv: searched first for any
    package it has. Only torch's family may come from it, as when it was explicit."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    uv_cache.folder.cache_clear()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("torch-2.13.0+cpu", "torchvision-0.28.0+cpu", "numpy-2.4.6"):
        (wheels / f"{name}-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    try:
        source = torch_source.resolve("cpu", str(wheels), tmp_path / "cache")
        assert source is not None
        index = Path(source.index_url.removeprefix("file://"))
        assert sorted(page.name for page in index.iterdir()) == ["torch", "torchvision"]
        # uv unpacks a wheel once per index URL: another project's cache folder (each test's
        # own, in CI) gets the same index, in uv's cache, so torch is not unpacked again.
        again = torch_source.resolve("cpu", str(wheels), tmp_path / "other-project-cache")
        assert again is not None and again.index_url == source.index_url
        assert index.is_relative_to((tmp_path / "uv-cache").resolve())
    finally:
        uv_cache.folder.cache_clear()


def workspace(root: Path, members: str = '["packages/*"]', exclude: str = "[]") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f"[tool.uv.workspace]\nmembers = {members}\nexclude = {exclude}\n{FORMS['marker']}"
    )
    return root


def member(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f"[project]\nname = '{folder.name}'\nversion = '0.1'\nrequires-python = '>=3.10'\n"
        "dependencies = ['torch>=2.4']\n\n[tool.mlci]\n"
    )
    return folder


def _workspace_root(folder: Path) -> Path | None:
    found = find_workspace(folder)
    return None if found is None else found.root


def test_a_member_finds_its_workspace_root_as_uv_does(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws", '["./packages/*", "apps/**"]', '["packages/skip"]')
    assert _workspace_root(member(root / "packages" / "a")) == root
    assert _workspace_root(member(root / "apps" / "web" / "api")) == root
    assert _workspace_root(member(root / "packages" / "skip")) is None  # excluded
    assert _workspace_root(member(root / "tools" / "x")) is None  # not listed
    assert _workspace_root(root) is None  # the root is no member of itself
    # The nearest pyproject.toml above decides: a project that is no workspace ends the search.
    outer = member(root / "apps" / "plain")
    assert _workspace_root(member(outer / "examples" / "demo")) is None


def test_a_member_follows_the_lock_at_its_workspace_root(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws", exclude='["packages/skip"]')
    inside, skipped = member(root / "packages" / "a"), member(root / "packages" / "skip")
    for folder in (root, inside, skipped):
        (folder / "uv.lock").write_text("version = 1\n")
    assert Project.load(inside).lock == root / "uv.lock"  # uv ignores a member's own lock
    assert Project.load(skipped).lock == skipped / "uv.lock"
    (root / "uv.lock").unlink()
    assert Project.load(inside).lock is None


def test_a_member_gets_its_roots_torch_sources(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    inside = member(root / "packages" / "a")
    assert uv_sources.torch_indexes(Project.load(inside)) == INDEXES["marker"]
    # Its own entry for torch replaces the root's.
    text = (inside / "pyproject.toml").read_text()
    (inside / "pyproject.toml").write_text(text + FORMS["plain"])
    assert uv_sources.torch_indexes(Project.load(inside)) == INDEXES["plain"]


def test_a_member_says_it_follows_its_workspace_lock(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    (root / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    inside = member(root / "packages" / "a")
    text = (inside / "pyproject.toml").read_text().replace("'torch>=2.4'", "")
    (inside / "pyproject.toml").write_text(text + "torch-backend = 'none'\n")
    subprocess.run(["uv", "lock", "--offline", "--quiet"], cwd=root, check=True)
    made = request(inside, "none", {})
    assert made.locked and made.follows_files == (root / "uv.lock",)
    assert made.follows == f"uv.lock of the workspace root {Path('..', '..')} (its versions)"


def test_a_conflict_of_indexes_is_named_whole(tmp_path: Path) -> None:
    """uv lists the two indexes on the lines after its error: the reason keeps them."""
    root = write_project(tmp_path / "project", "marker")
    source = torch_source.resolve("cpu", "", tmp_path / "cache")
    assert source is not None
    command = ["uv", "pip", "install", "--dry-run", "--offline", "--python", sys.executable]
    command += ["-e", str(root), *source.install_args()]  # both pin torch: no rename
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    reason = install.failure_reason(done.stdout + done.stderr, install.InstallRequest([], source))
    assert "\n" not in reason and reason.startswith("Requirements contain conflicting indexes")
    assert f"{PYTORCH}/cu128" in reason and source.index_url in reason


def test_what_uv_lists_under_a_cause_is_kept() -> None:
    versions = ("torch<=1.12.1", "torch>=1.13.0")
    output = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because torch<=1.12.1 has no wheels and only these versions are available:\n"
        + "".join(f"             {version}\n" for version in versions)
        + "         we can conclude that torch<1.13.0 cannot be used. (1)\n"
    )
    reason = install.failure_reason(output, install.InstallRequest([], None))
    assert reason.endswith(f"are available: {', '.join(versions)}")
