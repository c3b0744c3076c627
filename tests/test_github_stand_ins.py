"""The act stand-ins are as strict as the actions they replace, where mlci relies on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STAND_INS = Path(__file__).resolve().parent / "e2e" / "github-stand-ins"


def run(tmp_path: Path, script: str, verb: str, **env: str) -> tuple[int, str, dict[str, str]]:
    outputs = tmp_path / "outputs"
    outputs.write_text("")
    done = subprocess.run(
        [sys.executable, str(STAND_INS / script), verb],
        cwd=tmp_path / "work",
        env={
            **os.environ,
            "MLCI_STANDIN_ARTIFACTS": str(tmp_path / "artifacts"),
            "MLCI_STANDIN_CACHE": str(tmp_path / "cache"),
            "GITHUB_OUTPUT": str(outputs),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    found = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return done.returncode, done.stdout + done.stderr, found


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work" / "reports" / "unit-3.11-shard-1"
    folder.mkdir(parents=True)
    (folder / "junit.xml").write_text("<testsuite/>")
    (folder / ".coverage").write_text("data")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x").write_text("x")
    return tmp_path


Result = tuple[int, str, dict[str, str]]


def upload(
    tmp_path: Path, name: str = "a", path: str = "reports/unit-3.11-shard-1/", **env: str
) -> Result:
    defaults = {"NAME": name, "SOURCE": path, "IF_NONE": "warn", "HIDDEN": "false"}
    return run(tmp_path, "artifacts.py", "upload", **{**defaults, **env})


def test_upload_leaves_hidden_files_out_unless_asked(work: Path) -> None:
    assert upload(work)[0] == 0
    assert sorted(p.name for p in (work / "artifacts" / "a").rglob("*")) == ["junit.xml"]
    assert upload(work, name="b", HIDDEN="true")[0] == 0
    assert (work / "artifacts" / "b" / ".coverage").is_file()
    assert (work / "artifacts" / "b" / ".hidden" / "x").is_file()


def test_a_hidden_file_alone_uploads_nothing(work: Path) -> None:
    code, text, _ = upload(work, path="reports/unit-3.11-shard-1/.coverage", IF_NONE="error")
    assert code == 1 and "No files were found with the provided path" in text
    code, text, _ = upload(work, path="reports/unit-3.11-shard-1/.coverage")
    assert code == 0 and "::warning::No files were found" in text
    assert not (work / "artifacts" / "a").exists()


def test_upload_refuses_a_bad_or_repeated_name(work: Path) -> None:
    code, text, _ = upload(work, name="unit (3.11, 1/3)")
    assert code == 1 and "Artifact name is not valid" in text
    assert upload(work)[0] == 0
    code, text, _ = upload(work)
    assert code == 1 and "already exists on the workflow run" in text


def test_download_lands_where_the_real_action_puts_it(work: Path) -> None:
    assert upload(work, name="mlci-reports-unit-3.11-shard-1")[0] == 0
    assert upload(work, name="mlci-reports-lint", path="reports/")[0] == 0
    env = {"NAME": "", "PATTERN": "mlci-reports-unit-*", "DEST": "out", "MERGE": "false"}
    assert run(work, "artifacts.py", "download", **env)[0] == 0
    assert (work / "work" / "out" / "mlci-reports-unit-3.11-shard-1" / "junit.xml").is_file()
    assert not (work / "work" / "out" / "mlci-reports-lint").exists()
    env = {**env, "NAME": "mlci-reports-unit-3.11-shard-1", "DEST": "one"}
    assert run(work, "artifacts.py", "download", **env)[0] == 0
    assert (work / "work" / "one" / "junit.xml").is_file()
    code, text, _ = run(work, "artifacts.py", "download", **{**env, "NAME": "nope"})
    assert code == 1 and "Artifact not found for name: nope" in text


def cache(tmp_path: Path, verb: str, path: str, key: str, **env: str) -> Result:
    return run(tmp_path, "cache.py", verb, SAVED=path, KEY=key, **env)


def test_restore_keys_lookup_and_a_miss_that_fails(work: Path) -> None:
    (work / "work" / "d.json").write_text("{}")
    assert cache(work, "save", "d.json", "mlci-durations-aaa")[0] == 0
    code, text, out = cache(work, "save", "d.json", "mlci-durations-aaa")
    assert code == 0 and "Unable to reserve cache" in text  # entries are written once
    (work / "work" / "d.json").unlink()
    code, _, out = cache(
        work, "restore", "d.json", "mlci-durations-bbb", PREFIX="mlci-durations-", LOOKUP="true"
    )
    assert (
        code == 0
        and out["cache-matched-key"] == "mlci-durations-aaa"
        and out["cache-hit"] == "false"
    )
    assert not (work / "work" / "d.json").exists()  # lookup-only downloads nothing
    code, _, out = cache(work, "restore", "d.json", "mlci-durations-aaa", FAIL="true")
    assert code == 0 and out["cache-hit"] == "true" and (work / "work" / "d.json").is_file()
    code, text, _ = cache(work, "restore", "d.json", "mlci-durations-zzz", FAIL="true")
    assert code == 1 and "fail-on-cache-miss" in text


def test_an_entry_saved_with_another_path_or_on_another_branch_is_not_seen(work: Path) -> None:
    (work / "work" / "d.json").write_text("{}")
    feature = {"GITHUB_REF": "refs/heads/feature"}
    assert cache(work, "save", "d.json", "k-1", **feature)[0] == 0
    assert cache(work, "restore", "other.json", "k-1")[2]["cache-matched-key"] == ""
    assert (
        cache(work, "restore", "d.json", "k-1", GITHUB_REF="refs/heads/other")[2][
            "cache-matched-key"
        ]
        == ""
    )
    assert cache(work, "restore", "d.json", "k-1", **feature)[2]["cache-matched-key"] == "k-1"
    assert cache(work, "save", "d.json", "k-2")[0] == 0  # on the default branch: seen everywhere
    found = cache(work, "restore", "d.json", "x", PREFIX="k-", GITHUB_REF="refs/heads/other")[2]
    assert found["cache-matched-key"] == "k-2"
