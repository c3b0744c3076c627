"""downloads-key through real nox: a test that fetches a model from a hub (a stand-in on the
loopback address, `huggingface_hub` pointed at it with HF_ENDPOINT) makes requests on the
first run only; the second run finds the folder a green run left for the same key file and
runs the client offline."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlci.session.downloads import FOLDER, STAMP
from tests.hub_stand_in import serving
from tests.integ.conftest import RunNox, small_project
from tests.integ.test_sample_sessions import output

pytestmark = pytest.mark.integ

TEST = """import json

from huggingface_hub import hf_hub_download

import fetching  # noqa: F401 (what coverage measures)


def test_the_model_config():
    with open(hf_hub_download("acme/tiny", "config.json")) as handle:
        assert json.load(handle) == {"hidden": 4}
"""


def fetching_project(root: Path) -> Path:
    small_project(
        root,
        "fetching",
        ["huggingface_hub>=0.30"],
        "sessions = ['unit']\ntorch-backend = 'none'\ncoverage-fail-under = 0\n"
        "downloads-key = 'tests/models.txt'\n",
    )
    (root / "tests" / "models.txt").write_text("acme/tiny\n")
    (root / "tests" / "test_model.py").write_text(TEST)
    return root


def test_the_second_run_makes_no_request(
    tmp_path: Path, run_nox: RunNox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "TORCH_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    project = fetching_project(tmp_path / "fetching")
    session = f"unit-{sys.version_info.major}.{sys.version_info.minor}"
    with serving({"acme/tiny/config.json": b'{"hidden": 4}'}) as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
        first = run_nox(project, "-s", session, env=env)
        assert first.returncode == 0, output(first)
        assert hub.requests == [
            "HEAD /acme/tiny/resolve/main/config.json",
            "GET /acme/tiny/resolve/main/config.json",
        ]
        assert "mlci: downloads: online" in output(first)
        # The file and the hub cache's ref to its commit, named by the repository.
        assert "fetched 53 bytes: acme/tiny (53 bytes)" in output(first)
        assert (project / FOLDER / STAMP).is_file()  # green: the folder is complete
        hub.requests.clear()

        second = run_nox(project, "-s", session, env=env)
        assert second.returncode == 0, output(second)
        assert hub.requests == []
        assert "mlci: downloads: offline, the cache in .mlci-downloads/ matches" in output(second)
        assert "nothing fetched" in output(second)

        # A new entry in the list: online again, so the new download can happen.
        (project / "tests" / "models.txt").write_text("acme/tiny\nacme/other\n")
        third = run_nox(project, "-s", session, env=env)
        assert third.returncode == 0, output(third)
        assert hub.requests == ["HEAD /acme/tiny/resolve/main/config.json"]
        assert "mlci: downloads: online" in output(third)
