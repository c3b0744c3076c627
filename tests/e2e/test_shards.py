"""unit-shards through both front ends, on a generated suite with known durations: every test
runs exactly once across the shards, the combined coverage equals an unsharded run's, and a
failing test fails its shard and the required check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.junit import parse
from mlci.summary import total_coverage
from tests.e2e.act_harness import kit_copy, run_act
from tests.e2e.gitlab_harness import as_gitlab_repository, bare_kit, run_pipeline
from tests.sample import commit_all

pytestmark = pytest.mark.integ

FILES, PER_FILE = 6, 10  # 60 tests, 0.01-0.10 s each
FAILING = "tests/test_part3.py::test_case_7"


def generated_suite(root: Path) -> Path:
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
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'gen'\nversion = '0.1'\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.coverage.run]\nbranch = true\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\ntorch-backend = 'none'\n"
        "sessions = ['unit']\ncoverage-fail-under = 50\n"
    )
    (root / ".gitignore").write_text("reports/\n.nox/\n")
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


def test_three_shards_on_github(tmp_path: Path) -> None:
    kit = kit_copy(tmp_path / "kit")
    project = generated_suite(tmp_path / "project")
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "name: ci\non: [push]\npermissions: {}\njobs:\n  ci:\n"
        "    uses: acme/mlci/.github/workflows/test.yml@v1\n"
        "    permissions:\n      contents: read\n"
        "    with:\n      unit-shards: '3'\n      mlci-repository: acme/mlci\n      mlci-ref: v1\n"
    )
    commit_all(project, "generated suite")
    run = run_act(project, kit, tmp_path / "act")
    results = run.job_results()
    shard_results = {name: state for name, state in results.items() if name.startswith("unit (")}
    assert sorted(shard_results) == [f"unit (3.11, {i}/3)" for i in (1, 2, 3)], results
    assert sorted(shard_results.values()) == ["failure", "success", "success"]  # one has FAILING
    assert results["coverage"] == "success", run.text[-4000:]
    assert results["mlci"] == "failure"  # the required check covers the shards

    junits = sorted(run.artifacts.glob("mlci-reports-unit-3.11-shard-*/junit.xml"))
    names = cases(junits)
    assert len(junits) == 3 and len(names) == len(set(names)) == FILES * PER_FILE
    combined = run.artifacts / "mlci-reports-coverage" / "coverage-3.11" / "coverage.xml"
    total = total_coverage(combined)
    assert total is not None and abs(total - unsharded_coverage(project)) < 1e-6
    assert "pytest-split] Running group" in run.text or "deselected" in run.text


def test_three_shards_on_gitlab(tmp_path: Path) -> None:
    remotes = bare_kit(tmp_path / "remotes-work")
    project = generated_suite(tmp_path / "project")
    include = {
        "project": "acme/mlci",
        "ref": f"v{__import__('mlci').__version__}",
        "file": "ci-templates/gitlab/mlci.yml",
        "inputs": {"python-versions": ["3.11"], "sessions": ["unit"], "unit-shards": 3},
    }
    (project / ".gitlab-ci.yml").write_text(json.dumps({"include": [include]}))
    as_gitlab_repository(project)
    pipeline = run_pipeline(project, remotes, tmp_path)
    status = pipeline.status()
    shard_jobs = {name: state for name, state in status.items() if "mlci-unit-shard" in name}
    assert len(shard_jobs) == 3, status
    assert sorted(shard_jobs.values()) == ["FAIL", "PASS", "PASS"]
    assert status.get("mlci-coverage") == "PASS", pipeline.output[-4000:]
    assert pipeline.returncode != 0
    artifacts = project / ".gitlab-ci-local" / "artifacts"
    junits = sorted(artifacts.glob("mlci-unit-shard*/reports/unit-3.11-shard-*/junit.xml"))
    names = cases(junits)
    assert len(junits) == 3 and len(names) == len(set(names)) == FILES * PER_FILE
    combined = next(artifacts.glob("mlci-coverage*/reports/coverage-3.11/coverage.xml"))
    total = total_coverage(combined)
    assert total is not None and abs(total - unsharded_coverage(project)) < 1e-6
    assert re.search(r"PASS +mlci-coverage +\d+(\.\d+)?% coverage", pipeline.output)
