"""What change-aware selection saves (gpu-select, unit-select), measured in one run.

    python benchmarks/selection.py [--repeat 3] [--write docs/benchmarks-selection.md]

(in an environment with mlci, pytest and pytest-cov: the kit's own test environment.)

A generated project of 40 modules with 200 unit tests (5 a module, 20 ms each) and 20 gpu
tests (2 for each of the first 10 modules, 200 ms each: run on the CPU here, the time stands
for a GPU runner's). The default branch's full runs record the test maps as the sessions do
(pytest-cov with `--cov-context=test`, then `mlci test-map`); then a pull request changes one
module, the plan's decision is made (planner.py's: unit, the files it reaches; gpu, all or none),
and the tests it chose run. Every time is a median of wall times of this run; a share saved is
1 - selected / full, both measured here.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlci.ci import selection
from mlci.cli import main as mlci
from mlci.session import test_map

MODULES = 40
UNIT_PER_MODULE = 5
GPU_MODULES = 10  # the first ten modules have gpu tests
GPU_PER_MODULE = 2
# (what the pull request changes, what it shows)
CASES = (
    (f"src/pkg/mod_{GPU_MODULES + 15:02d}.py", "a module no gpu test reaches"),
    ("src/pkg/mod_03.py", "a module gpu tests reach"),
)


def generate(root: Path) -> None:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    for index in range(MODULES):
        name = f"mod_{index:02d}"
        (root / "src" / "pkg" / f"{name}.py").write_text(
            f"def value(n):\n    return n * {index + 1}\n"
        )
        tests = [
            f"def test_unit_{case}():\n    time.sleep(0.02)\n    assert {name}.value({case}) >= 0\n"
            for case in range(UNIT_PER_MODULE)
        ]
        if index < GPU_MODULES:
            tests += [
                f"@pytest.mark.gpu\ndef test_gpu_{case}():\n    time.sleep(0.2)\n"
                f"    assert {name}.value({case}) >= 0\n"
                for case in range(GPU_PER_MODULE)
            ]
        header = f"import time\n\nimport pytest\n\nfrom pkg import {name}\n\n\n"
        (root / "tests" / f"test_{name}.py").write_text(header + "\n\n".join(tests))
    (root / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\npythonpath = ['src']\nmarkers = ['gpu: a gpu test']\n"
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        git(root, *args)


def git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=bench", "-c", "user.email=bench@mlci.invalid", *args]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


def pytest(root: Path, *args: str, data: Path | None = None) -> float:
    """Wall seconds of one pytest run, which must pass."""
    env = {**os.environ, "COVERAGE_FILE": str(data)} if data else dict(os.environ)
    # Without mlci's pytest plugin, which skips gpu tests on a machine without a GPU.
    plain = ["-q", "-p", "no:cacheprovider", "-p", "no:mlci"]
    command = [sys.executable, "-m", "pytest", *plain, *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(command)} failed:\n{done.stdout[-3000:]}")
    return time.perf_counter() - started


def record(root: Path) -> None:
    """The maps the default branch's unit and gpu sessions keep."""
    for kind, marks in (("unit", "not gpu"), ("gpu", "gpu")):
        data = root / f".coverage.{kind}"
        coverage = ["--cov=pkg", "--cov-context=test", "--cov-report="]
        pytest(root, "tests", "-m", marks, *coverage, data=data)
        marker = ["--marker", "gpu"] if kind == "gpu" else []
        output = root / ".mlci-test-maps" / f"{kind}.json"
        args = ["--coverage", str(data), "--output", str(output), "--root", str(root)]
        if mlci(["test-map", *args, *marker]) != 0:
            sys.exit(f"benchmark: mlci test-map ({kind}) failed")


def decide(root: Path, kind: str, changed: list[str]) -> dict[str, object]:
    """The plan's decision (planner.py: the carried maps merged, gpu tests by their marker)."""
    found, problems = test_map.load_carried(root)
    assert found is not None and not problems, problems
    gpu_tests = found.marker_tests.get("gpu", frozenset())
    decision = selection.decide(
        changed=changed,
        test_map=found,
        now=datetime.datetime.now(datetime.timezone.utc),
        max_age=datetime.timedelta(days=14),
        event="pull_request",
        always=(),
        selected_tests=gpu_tests if kind == "gpu" else frozenset(found.tests) - gpu_tests,
        mode="all" if kind == "gpu" else "affected",
        label=kind,
    )
    tests = None if decision.tests is None else list(decision.tests)
    return {"run": decision.run, "tests": tests, "reason": decision.reason}


def chosen_files(decision: dict[str, object]) -> list[str]:
    tests = decision["tests"]
    assert isinstance(tests, list)
    return sorted({str(node).split("::", 1)[0] for node in tests})


def measure(root: Path, repeat: int) -> list[dict[str, object]]:
    full_unit = statistics.median(pytest(root, "tests", "-m", "not gpu") for _ in range(repeat))
    full_gpu = statistics.median(pytest(root, "tests", "-m", "gpu") for _ in range(repeat))
    rows = []
    for path, what in CASES:
        with (root / path).open("a") as handle:
            handle.write("# changed by the pull request\n")
        git(root, "commit", "-qam", "the change")
        changed = git(root, "diff", "--name-only", "HEAD^1", "HEAD").split()
        unit, gpu = decide(root, "unit", changed), decide(root, "gpu", changed)
        files = chosen_files(unit) if unit["tests"] is not None else ["tests"]
        unit_time = (
            statistics.median(pytest(root, *files, "-m", "not gpu") for _ in range(repeat))
            if files
            else 0.0
        )
        gpu_time = full_gpu if gpu["run"] else 0.0  # gpu-select runs every gpu test or none
        rows.append(
            {
                "case": what,
                "changed": path,
                "unit_reason": unit["reason"],
                "gpu_reason": gpu["reason"],
                "unit_full": full_unit,
                "unit_selected": unit_time,
                "gpu_full": full_gpu,
                "gpu_selected": gpu_time,
            }
        )
        git(root, "reset", "-q", "--hard", "HEAD^1")
    return rows


def report(rows: list[dict[str, object]], repeat: int) -> str:
    def seconds(value: object) -> str:
        assert isinstance(value, float)
        return f"{value:.2f} s"

    def saved(full: object, part: object) -> str:
        assert isinstance(full, float) and isinstance(part, float)
        return f"{100 * (1 - part / full):.0f}%"

    lines = [
        "# Benchmark: change-aware selection",
        "",
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, Python"
        f" {platform.python_version()}, {platform.system()}; each time the median of {repeat}"
        " runs.",
        "Reproduce: `python benchmarks/selection.py --write docs/benchmarks-selection.md`"
        " (in the kit's test environment).",
        "",
        f"A generated project: {MODULES} modules, {MODULES * UNIT_PER_MODULE} unit tests (20 ms"
        f" each), {GPU_MODULES * GPU_PER_MODULE} gpu tests (200 ms each, for the first"
        f" {GPU_MODULES} modules; run on the CPU here, standing for a GPU runner's time). The"
        " maps come from full runs (`--cov-context=test`, `mlci test-map`); a pull request"
        " changes one module and the plan decides (unit-select: the test files it reaches;"
        " gpu-select: every gpu test or none). Times include pytest's start (about 0.3 s).",
        "",
        "| change | unit: decision | unit time, all / selected | unit saved"
        " | gpu: decision | gpu time, all / selected | gpu saved |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']} (`{row['changed']}`) | {row['unit_reason']}"
            f" | {seconds(row['unit_full'])} / {seconds(row['unit_selected'])}"
            f" | {saved(row['unit_full'], row['unit_selected'])}"
            f" | {row['gpu_reason']}"
            f" | {seconds(row['gpu_full'])} / {seconds(row['gpu_selected'])}"
            f" | {saved(row['gpu_full'], row['gpu_selected'])} |"
        )
    lines += [
        "",
        "What it leaves out: the CI jobs' own start (a runner, the environment), which a skipped"
        " gpu job saves too and a narrowed unit job does not; a change to dependencies, a"
        " configuration or a non-Python file runs everything (no saving).",
        "",
    ]
    return "\n".join(lines)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, help="write the report (Markdown) here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlci-selection-") as folder:
        root = Path(folder) / "project"
        generate(root)
        record(root)
        text = report(measure(root, args.repeat), args.repeat)
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
