"""The kit's release guards: only a vX.Y.Z tag publishes, and only a build of that version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlci import __version__
from mlci.ci.release import ReleaseError, check_dist, main, major_tag, major_to_move, version_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "ref",
    [
        "refs/heads/main",
        "refs/heads/v1.2.3",  # a branch named like a release
        "refs/pull/7/merge",
        "refs/tags/v1",  # the moving major tag itself
        "refs/tags/v1.2",
        "refs/tags/1.2.3",
        "refs/tags/v1.2.3-rc1",
        "refs/tags/v01.2.3",
        "refs/tags/v1.2.3\nrefs/tags/v9.9.9",
        "",
    ],
)
def test_anything_but_a_release_tag_is_refused(ref: str) -> None:
    with pytest.raises(ReleaseError, match="is not a release tag"):
        version_of(ref)
    assert main(["ref", ref]) == 1


def test_a_release_tag_names_its_version_and_major_tag() -> None:
    assert version_of("refs/tags/v1.14.2") == "1.14.2"
    assert major_tag("refs/tags/v1.14.2") == "v1"
    assert major_tag("refs/tags/v0.1.0") == "v0"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's wheel and sdist, built from this tree as the release workflow builds them."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        ["uv", "build", "--quiet", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.mark.integ
def test_the_built_wheel_and_sdist_carry_the_tag_version(dist: Path) -> None:
    assert len([*dist.glob("mlci-*.whl"), *dist.glob("mlci-*.tar.gz")]) == 2
    assert check_dist(f"refs/tags/v{__version__}", dist) == []
    wrong = check_dist("refs/tags/v99.0.0", dist)
    assert len(wrong) == 2 and all(
        f"is version {__version__}, the tag says 99.0.0" in w for w in wrong
    )


@pytest.mark.integ
def test_a_folder_without_the_sdist_is_refused(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("*.whl")
    (tmp_path / wheel.name).write_bytes(wheel.read_bytes())
    [problem] = check_dist(f"refs/tags/v{__version__}", tmp_path)
    assert "must hold one wheel and one sdist" in problem


def test_the_guard_runs_from_a_checkout_with_no_install() -> None:
    """The workflow runs `PYTHONPATH=src python3 -m mlci.ci.release`: standard library only."""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, 'src');"
            " from mlci.ci.release import main; sys.exit(main(['ref', 'refs/heads/main']))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "'refs/heads/main' is not a release tag" in done.stderr


@pytest.mark.parametrize(
    ("ref", "existing", "moves"),
    [
        ("refs/tags/v1.3.0", [], "v1"),  # the first release of a major
        ("refs/tags/v1.3.0", ["refs/tags/v1.2.9", "refs/tags/v1"], "v1"),
        ("refs/tags/v1.3.0", ["refs/tags/v1.3.0", "refs/tags/v1.2.0"], "v1"),  # itself listed
        ("refs/tags/v1.2.5", ["refs/tags/v1.3.0", "refs/tags/v1.2.4"], None),  # a backport
        ("refs/tags/v1.10.0", ["refs/tags/v1.9.0"], "v1"),  # numbers, not text, compared
        ("refs/tags/v1.2.5", ["refs/tags/v2.0.0", "refs/tags/v1.2.4"], "v1"),  # another major
        ("refs/tags/v1.2.5", ["refs/tags/v1.3.0-rc1", "refs/heads/v1.9.9"], "v1"),  # not releases
    ],
)
def test_the_major_tag_only_moves_forward(ref: str, existing: list[str], moves: str | None) -> None:
    assert major_to_move(ref, existing) == moves


def test_the_major_command_reads_the_tags_from_stdin() -> None:
    run = [sys.executable, "-m", "mlci.ci.release", "major"]
    env = {"PYTHONPATH": str(ROOT / "src")}
    newer = subprocess.run(
        [*run, "refs/tags/v1.2.5"],
        input="refs/tags/v1.3.0\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert newer.stdout == "" and "v1 stays where it is" in newer.stderr
    first = subprocess.run(
        [*run, "refs/tags/v1.2.5"], input="", capture_output=True, text=True, env=env, check=True
    )
    assert first.stdout == "v1\n"
