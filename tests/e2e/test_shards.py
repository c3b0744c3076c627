"""unit-shards through both front ends, on a generated suite with known durations: every test
runs exactly once across the shards, the combined coverage equals an unsharded run's, and a
failing test fails its shard and the required check. A shard given other durations than its
siblings (as a runner with its own cache would be) makes the combine red, naming the dropped
tests; and with the kit's hidden coverage data file back, the GitHub run goes red too, as it
does on GitHub itself, because the artifact stand-ins drop hidden files as the real action does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.session.junit import parse
from mlci.session.summary import total_coverage
from tests.e2e.act_harness import KIT_REF, kit_copy, run_act
from tests.e2e.gitlab_harness import as_gitlab_repository, bare_kit, run_pipeline
from tests.sample import commit_all

pytestmark = pytest.mark.integ

FILES, PER_FILE = 6, 10  # 60 tests, 0.01-0.10 s each
FAILING = "tests/test_part3.py::test_case_7"


# A noxfile that hands shard 2 its own durations before mlci reads them, standing in for a
# runner whose cache held another entry than its siblings'.
SKEWED_NOXFILE = """import json, os, pathlib
import mlci

if os.environ.get("MLCI_SHARD", "").startswith("2/"):
    slow = {f"tests/test_part{p}.py::test_case_{c}": 10.0 * p for p in range(6) for c in range(3)}
    pathlib.Path(".test_durations").write_text(json.dumps(slow))
mlci.sessions()
"""


def generated_suite(root: Path, noxfile: str = "import mlci\n\nmlci.sessions()\n") -> Path:
    """A torch-free package of ten functions with branches, and 60 tests of known durations."""
    package = root / "src" / "gen"
    package.mkdir(parents=True)
    body = "".join(
        f"\n\ndef f{i}(x: int) -> int:\n    if x > {i}:\n        return x - {i}\n    return {i}\n"
        for i in range(10)
    )
    (package / "__init__.py").write_text('"""Generated."""' + body)
    (root / "tests").mkdir()
    for part in range(FILES):
        lines = ["import time\n", "import gen\n"]
        for case in range(PER_FILE):
            name = f"tests/test_part{part}.py::test_case_{case}"
            check = "assert False, 'broken on purpose'" if name == FAILING else "assert True"
            lines.append(
                f"\n\ndef test_case_{case}():\n    time.sleep({(case + 1) / 100})\n"
                f"    gen.f{(part + case) % 7}({case})\n    {check}\n"
            )
        (root / "tests" / f"test_part{part}.py").write_text("".join(lines))
    (root / "noxfile.py").write_text(noxfile)
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'gen'\nversion = '0.1'\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.coverage.run]\nbranch = true\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\ntorch-backend = 'none'\n"
        "sessions = ['unit']\ncoverage-fail-under = 50\n"
    )
    (root / ".gitignore").write_text("mlci-reports/\n.nox/\n")
    return root


def unsharded_coverage(root: Path) -> float:
    """The same suite in one run, for comparison."""
    report = root / "coverage.xml"  # pytest-cov's own default report, with the xml flag
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--cov=gen",
            "--cov-report=xml",
            "tests",
        ],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
    )
    total = total_coverage(report)
    assert total is not None
    return total


def cases(junit_files: list[Path]) -> list[str]:
    names = []
    for path in junit_files:
        root = parse(path)
        assert root is not None, path
        names += [f"{c.get('classname')}::{c.get('name')}" for c in root.iter("testcase")]
    return names


def fix_the_failing_test(project: Path) -> None:
    module = project / FAILING.split("::")[0]
    module.write_text(
        module.read_text().replace("assert False, 'broken on purpose'", "assert True")
    )


def github_caller(project: Path) -> None:
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "name: ci\non: [push]\npermissions: {}\njobs:\n  ci:\n"
        f"    uses: acme/mlci/.github/workflows/test.yml@{KIT_REF}\n"
        "    permissions:\n      contents: read\n"
        "    with:\n      unit-shards: '3'\n      mlci-repository: acme/mlci\n"
        f"      mlci-ref: {KIT_REF}\n"
    )
    commit_all(project, "generated suite")


def records(folders: list[Path]) -> list[dict[str, object]]:
    return [json.loads((folder / "shard.json").read_text()) for folder in folders]


def test_three_shards_on_github(tmp_path: Path) -> None:
    kit = kit_copy(tmp_path / "kit")
    project = generated_suite(tmp_path / "project")
    github_caller(project)
    cache = tmp_path / "cache"
    run = run_act(project, kit, tmp_path / "act", cache=cache)
    results = run.job_results()
    shard_results = {name: state for name, state in results.items() if name.startswith("unit (")}
    assert sorted(shard_results) == [f"unit (3.11, {i}/3)" for i in (1, 2, 3)], results
    assert sorted(shard_results.values()) == ["failure", "success", "success"]  # one has FAILING
    assert results["coverage"] == "success", run.text[-4000:]
    assert results["mlci"] == "failure"  # the required check covers the shards

    shard_folders = sorted(run.artifacts.glob("mlci-reports-unit-3.11-shard-*"))
    names = cases([folder / "junit.xml" for folder in shard_folders])
    assert len(shard_folders) == 3 and len(names) == len(set(names)) == FILES * PER_FILE
    # No durations yet: the plan job handed every shard the same empty file (split by count).
    first_digests = {str(r["durations"]) for r in records(shard_folders)}
    assert len(first_digests) == 1
    combined = run.artifacts / "mlci-reports-coverage" / "coverage-3.11" / "coverage.xml"
    total = total_coverage(combined)
    assert total is not None and abs(total - unsharded_coverage(project)) < 1e-6
    assert "pytest-split] Running group" in run.text or "deselected" in run.text

    # The next commit fixes the test: the plan job chooses the entry the combine job saved,
    # every shard restores exactly that one and splits by it, and the whole run is green.
    fix_the_failing_test(project)
    commit_all(project, "next")
    second = run_act(project, kit, tmp_path / "act-2", cache=cache)
    assert set(second.job_results().values()) == {"success"}, second.text[-4000:]
    # Restored once, by the plan job; each shard fetched the plan's artifact.
    assert second.text.count("Cache restored from key: mlci-durations-") == 1
    assert second.text.count("download-artifact stand-in: mlci-durations-run") == 3
    folders = sorted(second.artifacts.glob("mlci-reports-unit-3.11-shard-*"))
    digests = {str(r["durations"]) for r in records(folders)}
    assert len(digests) == 1 and digests != first_digests
    names = cases([folder / "junit.xml" for folder in folders])
    assert len(names) == len(set(names)) == FILES * PER_FILE


def test_a_shard_that_split_by_other_durations_turns_github_red(tmp_path: Path) -> None:
    kit = kit_copy(tmp_path / "kit")
    project = generated_suite(tmp_path / "project", SKEWED_NOXFILE)
    github_caller(project)
    run = run_act(project, kit, tmp_path / "act")
    results = run.job_results()
    assert results["coverage"] == "failure" and results["mlci"] == "failure"
    assert "the unit shards did not run every test once: 60 tests collected" in run.text
    assert re.search(r"\d+ never ran: tests\.test_part\d::test_case_\d", run.text)
    assert "they split by different durations (1/3: " in run.text


def test_hidden_coverage_data_would_never_reach_the_combine_job(tmp_path: Path) -> None:
    """The fix taken back (coverage's data file named `.coverage` again): upload-artifact leaves
    hidden files out, so the combine finds no data, as it would on GitHub."""

    def hidden_data(kit: Path) -> None:
        registry = kit / "src" / "mlci" / "session" / "registry.py"
        registry.write_text(
            registry.read_text().replace('DATA = "coverage.data"', 'DATA = ".coverage"')
        )

    kit = kit_copy(tmp_path / "kit", edit=hidden_data)
    project = generated_suite(tmp_path / "project")
    github_caller(project)
    run = run_act(project, kit, tmp_path / "act")
    assert run.job_results()["coverage"] == "failure"
    assert "no coverage data of unit-3.11's shards" in run.text
    assert not list(run.artifacts.glob("mlci-reports-unit-3.11-shard-*/.coverage"))


def gitlab_project(tmp_path: Path, noxfile: str | None = None) -> Path:
    project = generated_suite(tmp_path / "project", *([noxfile] if noxfile else []))
    include = {
        "project": "acme/mlci",
        "ref": f"v{__import__('mlci').__version__}",
        "file": "ci-templates/gitlab/mlci.yml",
        "inputs": {"python-versions": ["3.11"], "sessions": ["unit"], "unit-shards": 3},
    }
    (project / ".gitlab-ci.yml").write_text(json.dumps({"include": [include]}))
    as_gitlab_repository(project)
    return project


def test_three_shards_on_gitlab(tmp_path: Path) -> None:
    remotes = bare_kit(tmp_path / "remotes-work")
    project = gitlab_project(tmp_path)
    pipeline = run_pipeline(project, remotes, tmp_path)
    status = pipeline.status()
    shard_jobs = {name: state for name, state in status.items() if "mlci-unit-shard" in name}
    assert len(shard_jobs) == 3, status
    assert sorted(shard_jobs.values()) == ["FAIL", "PASS", "PASS"]
    assert status.get("mlci-coverage: [3.11]") == "PASS", pipeline.output[-4000:]
    assert pipeline.returncode != 0
    artifacts = project / ".gitlab-ci-local" / "artifacts"
    junits = sorted(artifacts.glob("mlci-unit-shard*/mlci-reports/unit-3.11-shard-*/junit.xml"))
    names = cases(junits)
    assert len(junits) == 3 and len(names) == len(set(names)) == FILES * PER_FILE
    combined = next(artifacts.glob("mlci-coverage*/mlci-reports/coverage-3.11/coverage.xml"))
    total = total_coverage(combined)
    assert total is not None and abs(total - unsharded_coverage(project)) < 1e-6
    # One coverage value per Python: the job of each Python shows its own.
    assert re.search(r"PASS +mlci-coverage: \[3\.11\] +\d+(\.\d+)?% coverage", pipeline.output)

    # The next commit fixes the test: every job passes, every test ran once.
    fix_the_failing_test(project)
    commit_all(project, "next")
    shutil.rmtree(artifacts)
    second = run_pipeline(project, remotes, tmp_path)
    assert second.returncode == 0 and set(second.status().values()) == {"PASS"}, second.output[
        -4000:
    ]
    names = cases(
        sorted(artifacts.glob("mlci-unit-shard*/mlci-reports/unit-3.11-shard-*/junit.xml"))
    )
    assert len(names) == len(set(names)) == FILES * PER_FILE


def test_a_shard_that_split_by_other_durations_turns_gitlab_red(tmp_path: Path) -> None:
    remotes = bare_kit(tmp_path / "remotes-work")
    project = gitlab_project(tmp_path, SKEWED_NOXFILE)
    pipeline = run_pipeline(project, remotes, tmp_path)
    assert pipeline.status().get("mlci-coverage: [3.11]") == "FAIL", pipeline.output[-4000:]
    assert "the unit shards did not run every test once: 60 tests collected" in pipeline.output
    assert re.search(r"\d+ never ran: tests\.test_part\d::test_case_\d", pipeline.output)
