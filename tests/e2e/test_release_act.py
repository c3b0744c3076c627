"""The release workflow's build job, run by act: it builds only a vX.Y.Z tag of its own version.

Only `build` runs here (act `--job build`): `self-test` is the kit's whole CI, and the publish
side (OIDC, PyPI, attestation, moving the tag) needs GitHub itself; its stand-ins fail if run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci import __version__
from tests.e2e.act_harness import ActRun, kit_copy, run_act

pytestmark = pytest.mark.integ


def release(tmp_path: Path, ref: str) -> ActRun:
    kit = kit_copy(tmp_path / "kit")
    return run_act(
        kit, kit, tmp_path / "act", workflow=".github/workflows/release.yml", ref=ref, job="build"
    )


def test_a_release_tag_builds_a_wheel_and_sdist_of_that_version(tmp_path: Path) -> None:
    ref = f"refs/tags/v{__version__}"
    run = release(tmp_path, ref)
    assert run.returncode == 0, run.text[-4000:]
    assert run.job_results(called=False) == {"build and check": "success"}
    built = sorted(p.name for p in (run.artifacts / "dist").glob("mlci-*"))
    assert built == [f"mlci-{__version__}-py3-none-any.whl", f"mlci-{__version__}.tar.gz"]
    assert f"match {ref}" in run.text


@pytest.mark.parametrize(
    ("ref", "refusal"),
    [
        ("refs/heads/main", "'refs/heads/main' is not a release tag"),
        ("refs/tags/v99.0.0", f"is version {__version__}, the tag says 99.0.0"),
    ],
)
def test_a_branch_or_a_tag_of_another_version_builds_nothing(
    tmp_path: Path, ref: str, refusal: str
) -> None:
    run = release(tmp_path, ref)
    assert run.returncode != 0
    assert run.job_results(called=False) == {"build and check": "failure"}
    assert refusal in run.text
    assert not (run.artifacts / "dist").exists()  # nothing for the publish job to take
