"""Benchmarks of scale and speed, measured in the same run as bench.py's baselines.

- unit-shards: a generated suite of 120 tests of known durations, as one session and as three
  shards run side by side (what three CI jobs do), after a first sharded run recorded the
  durations the shards balance by;
- coverage's cost by core: a generated CPU-bound suite on Python 3.12 without coverage, with
  coverage's C tracer (lines, then lines and branches) and with its sys.monitoring core;
- uv.lock: the sample project's environment built and used with its lock and without it;
- why a restored uv cache saves little here: the environment built with an empty and with a
  warm uv cache, and the first unit run after a rebuild (bytecode compiled again) vs the next.

Each figure is a wall time measured here; ratios compare figures of the same run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import median, run

SHARD_TESTS = 120


def generated_suite(root: Path, *, shards: int) -> Path:
    """120 tests sleeping 0.02-0.24 s (15.6 s in all), in a torch-free project."""
    (root / "src" / "gen").mkdir(parents=True)
    (root / "src" / "gen" / "__init__.py").write_text('"""Generated."""\n\nVALUE = 1\n')
    (root / "tests").mkdir()
    for part in range(10):
        body = "".join(
            f"\n\ndef test_{case}():\n    time.sleep({(case % 12 + 1) * 0.02:.2f})\n"
            "    assert gen.VALUE == 1\n"
            for case in range(part * 12, part * 12 + 12)
        )
        (root / "tests" / f"test_part{part}.py").write_text(f"import time\n\nimport gen\n{body}")
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'gen'\nversion = '0.1'\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\ntorch-backend = 'none'\nsessions = ['unit']\n"
        f"coverage-fail-under = 50\nunit-shards = {shards}\n"
    )
    return root


def cpu_suite(root: Path) -> Path:
    """Tests that spend their time in the package's own Python code (what a tracer slows)."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text(
        "def work(n):\n    total = 0\n    for i in range(n):\n"
        "        if i % 3 == 0:\n            total += i\n        elif i % 5:\n"
        "            total -= 1\n    return total\n"
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_work.py").write_text(
        "import pkg\n\nimport pytest\n\n\n@pytest.mark.parametrize('n', range(40))\n"
        "def test_work(n):\n    assert pkg.work(20_000 + n) != 0.5\n"
    )
    return root


class ScaleBench:
    def __init__(self, bench: Any) -> None:  # bench.Bench: its work folder, caches, results
        self.bench = bench
        self.work = bench.work / "scale"
        self.work.mkdir()

    def shards(self) -> None:
        project = generated_suite(self.work / "gen", shards=3)
        envdir = self.work / "gen-envs"
        nox = [*self.bench.nox[:-1], str(project / "noxfile.py"), "--envdir", str(envdir)]
        env = self.bench.env
        run([*nox, "-s", "unit-3.11"], project, env)  # the environment, built once

        def sharded() -> float:
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [*nox, "-s", "unit-3.11"],
                    cwd=project,
                    env={**env, "MLCI_SHARD": f"{i}/3"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for i in (1, 2, 3)
            ]
            if any(p.wait() != 0 for p in procs):
                sys.exit("benchmark: a shard failed")
            return time.perf_counter() - started

        sharded()  # records the durations the next split balances by
        durations = sorted((project / "mlci-reports").glob("unit-3.11-shard-*/durations.json"))
        run(
            [
                *(sys.executable, "-m", "mlci.cli", "merge-durations", "--output"),
                *(str(project / ".test_durations"), *map(str, durations)),
            ],
            project,
            env,
        )
        repeat = self.bench.repeat
        one = median(repeat, lambda: run([*nox, "-s", "unit-3.11"], project, env))
        self.bench.record(f"{SHARD_TESTS} tests (15.6 s of sleep): 1 shard", one)
        self.bench.record(f"{SHARD_TESTS} tests: 3 shards side by side", median(repeat, sharded))

    def coverage_cores(self) -> None:
        python = shutil.which("python3.12") or ""
        uv = shutil.which("uv")
        if not python or uv is None:
            print("  (no Python 3.12 here: coverage cores not measured)", flush=True)
            return
        venv = self.work / "venv312"
        run([uv, "venv", "-q", "--python", python, str(venv)], self.work, self.bench.env)
        run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "pytest-cov"],
            self.work,
            self.bench.env,
        )
        project = cpu_suite(self.work / "cpu")
        pytest = [str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "tests"]
        base = {**self.bench.env, "PYTHONPATH": str(project)}
        cases = {
            "3.12 floor: bare pytest": ([], {}),
            "3.12 pytest --cov, lines, C tracer": (["--cov=pkg"], {"COVERAGE_CORE": "ctrace"}),
            "3.12 pytest --cov, lines, sys.monitoring": (
                ["--cov=pkg"],
                {"COVERAGE_CORE": "sysmon"},
            ),
            "3.12 pytest --cov, lines and branches, C tracer": (
                ["--cov=pkg", "--cov-branch"],
                {"COVERAGE_CORE": "ctrace"},
            ),
        }
        for name, (flags, extra) in cases.items():
            command = [*pytest, *flags]
            self.bench.record(
                name,
                median(
                    self.bench.repeat, lambda c=command, e=extra: run(c, project, {**base, **e})
                ),
            )

    def lock_and_cache(self) -> None:
        """The sample's environment with and without its uv.lock; cold, restored and warm."""
        bench = self.bench
        for label, lock in (("with uv.lock", True), ("without a lock", False)):
            project = self.work / f"sample-{'locked' if lock else 'free'}"
            shutil.copytree(bench.project, project)
            if not lock:
                (project / "uv.lock").unlink()
            envdir = self.work / f"envs-{project.name}"
            nox = [*bench.nox[:-1], str(project / "noxfile.py"), "--envdir", str(envdir)]
            install = [*nox, "-s", "unit-3.11", "--install-only"]
            if not bench.quick:
                shutil.rmtree(envdir, ignore_errors=True)
                cold = run(install, project, bench.cold_env(f"lock-{lock}"))
                bench.record(f"sample env build, empty uv cache, {label}", cold)
            shutil.rmtree(envdir, ignore_errors=True)
            bench.record(
                f"sample env build, restored uv cache, {label}", run(install, project, bench.env)
            )
            unit = [*nox, "-s", "unit-3.11"]
            # No bytecode of this environment's files yet: what every rebuild paid before.
            bench.record(f"first unit, no bytecode yet, {label}", run(unit, project, bench.env))
            bench.record(
                f"warm unit, {label}",
                median(bench.repeat, lambda u=unit, p=project: run(u, p, bench.env)),
            )
            # A CI job on restored caches: no environment, uv's cache with its bytecode.
            shutil.rmtree(envdir, ignore_errors=True)
            run(install, project, bench.env)
            bench.record(f"first unit after a rebuild, {label}", run(unit, project, bench.env))

    def all(self) -> None:
        print("scale:", flush=True)
        self.shards()
        self.coverage_cores()
        self.lock_and_cache()
