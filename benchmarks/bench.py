"""What CI costs with mlci, against the usual pip + plain commands setup, measured in one run.

    uvx nox -s bench -- [--repeat 3] [--quick] [--write docs/benchmarks.md]

(the session installs this mlci and nox; `python benchmarks/bench.py` works in any environment
that has both).

Every figure is a median of wall times measured here, in this run, on a throwaway copy of the
sample project; ratios are printed against baselines from the same run. Set MLCI_TORCH_INDEX
(a folder of torch wheels or an index) the same way you would for `nox`. `--quick` skips the
cold runs (the slow ones).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.sample import copy_sample  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

SAMPLE = ROOT / "examples" / "sample-model"
UNIT = ["tests", "-m", "not integ and not gpu", "-q", "-p", "no:cacheprovider"]
# The usual setup: the guide's recipes as plain commands in one pip-built virtualenv.
BASELINE_TOOLS = ["pytest", "pytest-cov", "nbmake", "ipykernel", "mypy", "pylint", "matplotlib"]
# The sample registers its markers through mlci's pytest plugin; the baseline loads that one
# small module from this tree (PYTHONPATH below) instead of installing mlci.
MARKERS = ["-p", "mlci.session.pytest_plugin"]
BASELINE_COMMANDS = [
    ["pylint", "src/sample_model"],
    ["mypy", "src/sample_model", "tests"],
    ["pytest", *MARKERS, *UNIT, "--cov=sample_model"],
    ["pytest", *MARKERS, "tests", "-m", "integ", "-q", "-p", "no:cacheprovider"],
    ["pytest", *MARKERS, "--nbmake", "notebooks", "-q", "-p", "no:cacheprovider"],
]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of one command, which must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(
            f"benchmark: {' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return elapsed


def median(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def sample_copy(work: Path) -> Path:
    project = copy_sample(work / "sample-model")  # the tests' copy: the same files left out
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    return project


class Bench:
    def __init__(self, work: Path, repeat: int) -> None:
        self.work = work
        self.repeat = repeat
        self.project = sample_copy(work)
        self.env = {**os.environ, "PY_COLORS": "0", "NO_COLOR": "1"}
        # Both sides may write bytecode (pip and python do by default; some machines turn it off).
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env.pop("MLCI_SESSION", None)
        self.nox = [sys.executable, "-m", "nox", "--noxfile", str(self.project / "noxfile.py")]
        self.results: dict[str, float] = {}

    def record(self, name: str, seconds: float) -> None:
        self.results[name] = seconds
        print(f"  {name:<34} {seconds:8.2f} s", flush=True)

    def cold_env(self, tag: str) -> dict[str, str]:
        """Empty uv, pip and pre-commit caches: what a first run sees."""
        caches = self.work / f"caches-{tag}"
        return {
            **self.env,
            "UV_CACHE_DIR": str(caches / "uv"),
            "PRE_COMMIT_HOME": str(caches / "pre-commit"),
            "PIP_NO_CACHE_DIR": "1",
        }

    def forget(self) -> None:
        """Drop what a fresh CI checkout would not have: tool caches in the project folder."""
        for name in (
            ".mypy_cache",
            ".ruff_cache",
            ".pytest_cache",
            "mlci-reports",
            "lightning_logs",
        ):
            shutil.rmtree(self.project / name, ignore_errors=True)

    def mlci(self) -> None:
        envdir = self.work / "nox-envs"
        serial = [*self.nox, "--envdir", str(envdir)]
        # Side by side, as the README suggests running the whole pipeline locally.
        nox = [*serial, "-j", "auto"]

        def cold(command: list[str], tag: str) -> float:
            shutil.rmtree(envdir, ignore_errors=True)
            self.forget()
            return run(command, self.project, self.cold_env(tag))

        if not self.quick:
            self.record("mlci cold: full pipeline (nox -j auto)", cold(nox, "mlci-parallel"))
            self.record("mlci cold: one session at a time", cold(serial, "mlci-serial"))
        run(nox, self.project, self.env)  # build every environment with the usual caches
        self.record(
            "mlci warm: full pipeline (nox -j auto)",
            median(self.repeat, lambda: run(nox, self.project, self.env)),
        )
        unit = [*serial, "-s", "unit-3.11"]
        self.record(
            "mlci warm: nox -s unit", median(self.repeat, lambda: run(unit, self.project, self.env))
        )
        # The sample's DDP test (two processes, gloo, coverage in both ranks) against the rest.
        rest = {**self.env, "MLCI_EXCLUDE_MARKERS": "distributed"}
        self.record(
            "mlci warm: nox -s unit, without the DDP test",
            median(self.repeat, lambda: run(unit, self.project, rest)),
        )
        ddp_only = {**self.env, "MLCI_COVERAGE_FAIL_UNDER": "0"}
        self.record(
            "mlci warm: nox -s unit, the DDP test alone",
            median(
                self.repeat, lambda: run([*unit, "--", "-m", "distributed"], self.project, ddp_only)
            ),
        )
        # The floor runs in the environment mlci built, with the bytecode it compiled.
        shared = envdir / ".cache" / "mlci" / "py3.11-cpu"
        floor_env = {**self.env, "PYTHONPYCACHEPREFIX": str(self.bytecode())}
        pytest = [str(shared / "bin" / "pytest"), *UNIT]
        self.record(
            "floor: bare pytest (unit)",
            median(self.repeat, lambda: run(pytest, self.project, floor_env)),
        )
        # The same with the coverage unit measures: what coverage itself costs.
        covered = [*pytest, "--cov=sample_model", "--cov-report=xml:coverage-bench.xml"]
        self.record(
            "bare pytest --cov (unit)",
            median(self.repeat, lambda: run(covered, self.project, floor_env)),
        )

        def cache_hit() -> float:
            shutil.rmtree(envdir, ignore_errors=True)
            self.forget()
            return run(nox, self.project, self.env)

        self.record(
            "mlci cache hit: full pipeline (nox -j auto)",
            median(max(1, self.repeat // 2), cache_hit),
        )
        # The same with uv's wheels only, as a restored cache gave before it carried the
        # bytecode and mypy's cache too: those folders moved aside for the run, then back.
        carried = [self.uv_cache() / name for name in ("mlci-bytecode", "mlci-mypy")]
        aside = self.work / "carried-aside"
        aside.mkdir(exist_ok=True)
        for folder in carried:
            if folder.is_dir():
                shutil.move(folder, aside / folder.name)
        try:
            self.record("mlci cache hit, uv's wheels only: full pipeline", cache_hit())
        finally:
            for folder in carried:
                shutil.rmtree(folder, ignore_errors=True)  # what that run wrote
                if (aside / folder.name).is_dir():
                    shutil.move(aside / folder.name, folder)

    def uv_cache(self) -> Path:
        """uv's cache folder with this benchmark's settings (what sessions carry lives there)."""
        done = subprocess.run(
            ["uv", "cache", "dir"], capture_output=True, text=True, check=True, env=self.env
        )
        return Path(done.stdout.strip())

    def bytecode(self) -> Path:
        """The bytecode folder sessions use with this benchmark's uv cache."""
        return self.uv_cache() / "mlci-bytecode"

    def baseline(self) -> None:
        venv = self.work / "baseline-venv"
        bin_dir = venv / "bin"

        def build(env: dict[str, str]) -> float:
            shutil.rmtree(venv, ignore_errors=True)
            started = time.perf_counter()
            run([sys.executable, "-m", "venv", str(venv)], self.project, env)
            pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q"]
            torch = torch_requirement()
            if torch:  # as the usual setup documents it for a CPU machine
                run([*pip, *torch], self.project, env)
            run([*pip, "-e", ".", *BASELINE_TOOLS], self.project, env)
            return time.perf_counter() - started + commands(env)

        def commands(env: dict[str, str]) -> float:
            path_env = {
                **env,
                "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
                "PYTHONPATH": str(ROOT / "src"),
                "MPLBACKEND": "Agg",
            }
            return sum(
                run([str(bin_dir / c[0]), *c[1:]], self.project, path_env)
                for c in BASELINE_COMMANDS
            )

        if not self.quick:
            self.forget()
            self.record("baseline cold: pip + commands", build(self.cold_env("baseline")))
        else:
            build(self.env)
        self.record("baseline warm: commands only", median(self.repeat, lambda: commands(self.env)))

    def plan(self) -> None:
        command = [sys.executable, "-m", "mlci.cli", "plan", "--format", "json"]
        self.record("mlci plan", median(5, lambda: run(command, self.project, self.env)))

    quick = False


def torch_requirement() -> list[str]:
    """pip's way to a CPU torch: the local wheel folder when MLCI_TORCH_INDEX is one, else
    PyTorch's CPU index."""
    source = os.environ.get("MLCI_TORCH_INDEX", "")
    if source and Path(source).is_dir():
        wheels = sorted(Path(source).glob("torch-*+cpu-*.whl"))
        if wheels:
            return [str(wheels[-1])]
    return ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]


def torch_bytes() -> dict[str, int]:
    """Download size of a CPU torch vs a CUDA torch with its nvidia packages (PyPI metadata,
    no download): the CPU wheel from the configured folder, the CUDA set from the index's
    PEP 691 JSON pages, for the versions `uv pip compile` resolves."""
    sizes: dict[str, int] = {}
    source = os.environ.get("MLCI_TORCH_INDEX", "")
    cpu = (
        sorted(Path(source).glob("torch-*+cpu-cp311-*.whl"))
        if source and Path(source).is_dir()
        else []
    )
    if cpu:
        sizes["cpu"] = cpu[-1].stat().st_size
        version = cpu[-1].name.split("-")[1].split("+")[0]
    else:
        return sizes
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.in"
        req.write_text(f"torch=={version}\n")
        done = subprocess.run(
            [
                "uv",
                "pip",
                "compile",
                str(req),
                "--python-version",
                "3.11",
                "--python-platform",
                "x86_64-manylinux_2_28",
                "--no-header",
                "--no-annotate",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        return sizes
    pins = [line.split("==") for line in done.stdout.split() if "==" in line]
    index = pypi_simple_url()
    total = 0
    for name, pinned in pins:
        try:
            total += wheel_size(index, name, pinned)
        except OSError:
            return sizes  # no network to the index: leave the CUDA figure out
    sizes["cuda"] = total
    return sizes


def pypi_simple_url() -> str:
    """The package index this machine is configured for, else PyPI's."""
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(name, "").startswith("http"):
            return os.environ[name].rstrip("/")
    done = subprocess.run(
        ["python3", "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0 and done.stdout.strip().startswith("http"):
        return done.stdout.strip().rstrip("/")
    return "https://pypi.org/simple"


def wheel_size(index: str, name: str, version: str) -> int:
    """Bytes of the wheel pip would download for CPython 3.11 on Linux x86_64."""
    request = urllib.request.Request(
        f"{index}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        files = json.load(response)["files"]
    for file in files:
        filename: str = file["filename"]
        if f"-{version}-" not in filename or not filename.endswith(".whl"):
            continue
        platform_ok = "none-any" in filename or ("manylinux" in filename and "x86_64" in filename)
        python_ok = any(tag in filename for tag in ("-cp311-", "-py3-", "-abi3-", "-py2.py3-"))
        if platform_ok and python_ok:
            return int(file.get("size") or 0)
    return 0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def report(results: dict[str, float], sizes: dict[str, int], repeat: int) -> str:
    def ratio(a: str, b: str) -> str:
        return f"{results[a] / results[b]:.2f}" if a in results and b in results else "n/a"

    rows = [f"| {name} | {seconds:.2f} s |" for name, seconds in results.items()]
    if sizes.get("cpu"):
        rows.append(f"| torch CPU build download | {sizes['cpu'] / 1e6:.0f} MB |")
    if sizes.get("cuda"):
        rows.append(
            f"| torch CUDA build + nvidia packages download | {sizes['cuda'] / 1e6:.0f} MB |"
        )
    ratios = [
        (
            "mlci warm unit / bare pytest floor",
            ratio("mlci warm: nox -s unit", "floor: bare pytest (unit)"),
            "<= 1.3",
        ),
        (
            "mlci warm unit / bare pytest --cov (mlci's own overhead)",
            ratio("mlci warm: nox -s unit", "bare pytest --cov (unit)"),
            "",
        ),
        (
            "bare pytest --cov / bare pytest (what coverage costs)",
            ratio("bare pytest --cov (unit)", "floor: bare pytest (unit)"),
            "",
        ),
        (
            "3 shards side by side / 1 shard",
            ratio("120 tests: 3 shards side by side", "120 tests (15.6 s of sleep): 1 shard"),
            "<= 0.45",
        ),
        (
            "3.12 coverage, C tracer / floor (lines)",
            ratio("3.12 pytest --cov, lines, C tracer", "3.12 floor: bare pytest"),
            "",
        ),
        (
            "3.12 coverage, sys.monitoring / floor (lines)",
            ratio("3.12 pytest --cov, lines, sys.monitoring", "3.12 floor: bare pytest"),
            "",
        ),
        (
            "3.12 coverage, C tracer / floor (lines and branches)",
            ratio("3.12 pytest --cov, lines and branches, C tracer", "3.12 floor: bare pytest"),
            "",
        ),
        (
            "sample env build with uv.lock / without (restored cache)",
            ratio(
                "sample env build, restored uv cache, with uv.lock",
                "sample env build, restored uv cache, without a lock",
            ),
            "",
        ),
        (
            "env build, restored cache / empty cache (with uv.lock)",
            ratio(
                "sample env build, restored uv cache, with uv.lock",
                "sample env build, empty uv cache, with uv.lock",
            ),
            "",
        ),
        (
            "first unit after a rebuild / warm unit (bytecode restored with uv's cache)",
            ratio("first unit after a rebuild, with uv.lock", "warm unit, with uv.lock"),
            "<= 1.2",
        ),
        (
            "first unit with no bytecode yet / warm unit (before)",
            ratio("first unit, no bytecode yet, with uv.lock", "warm unit, with uv.lock"),
            "",
        ),
        (
            "CI job on restored caches (uv + bytecode + mypy's) / warm pipeline",
            ratio(
                "mlci cache hit: full pipeline (nox -j auto)",
                "mlci warm: full pipeline (nox -j auto)",
            ),
            "<= 1.2",
        ),
        (
            "the same with uv's wheels only / warm pipeline (before)",
            ratio(
                "mlci cache hit, uv's wheels only: full pipeline",
                "mlci warm: full pipeline (nox -j auto)",
            ),
            "",
        ),
        (
            "unit with the DDP test / without it (2 processes, gloo, both ranks measured)",
            ratio("mlci warm: nox -s unit", "mlci warm: nox -s unit, without the DDP test"),
            "",
        ),
        (
            "mlci cold / baseline cold",
            ratio("mlci cold: full pipeline (nox -j auto)", "baseline cold: pip + commands"),
            "<= 0.33",
        ),
        (
            "mlci cold, one session at a time / baseline cold",
            ratio("mlci cold: one session at a time", "baseline cold: pip + commands"),
            "",
        ),
        (
            "mlci cache hit / baseline warm",
            ratio("mlci cache hit: full pipeline (nox -j auto)", "baseline warm: commands only"),
            "",
        ),
        (
            "mlci warm pipeline / baseline warm",
            ratio("mlci warm: full pipeline (nox -j auto)", "baseline warm: commands only"),
            "",
        ),
        (
            "CPU / CUDA download bytes",
            f"{sizes['cpu'] / sizes['cuda']:.3f}"
            if sizes.get("cpu") and sizes.get("cuda")
            else "n/a",
            "<= 0.15",
        ),
    ]
    today = datetime.date.today().isoformat()
    return "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {today} on {machine()};",
            f"each time the median of {repeat} runs (cold runs: one).",
            "Reproduce: `python benchmarks/bench.py --write docs/benchmarks.md` (with",
            "`MLCI_TORCH_INDEX` set as for `nox`).",
            "",
            "- Same work on both sides: pylint, mypy, pytest unit with coverage, pytest integ,",
            "  nbmake; mlci also runs pre-commit (ruff, formatting, file hooks), the baseline",
            "  does not.",
            "- Cold: empty uv, pip and pre-commit caches, no environments, and no tool caches in",
            "  the project (`.mypy_cache` and the like); torch from the same wheel source.",
            "- Cache hit: environments and project tool caches gone, uv cache kept, with the",
            "  bytecode and mypy's cache it carries (a CI job that restored its uv cache: what",
            "  every CI job sees after the first).",
            "- The baseline is one `python -m venv` + `pip install -e . <tools>`, then the",
            "  commands one after another; its warm figure is the commands alone.",
            "",
            "| measurement | value |",
            "|---|---|",
            *rows,
            "",
            "| ratio | value | target |",
            "|---|---|---|",
            *[f"| {name} | {value} | {target} |" for name, value, target in ratios],
            "",
        ]
    )


NOTES = "## Notes"


def write_report(path: Path, text: str) -> None:
    """Replace the measured part of `path`, keeping its hand-written `## Notes` section."""
    notes = ""
    if path.is_file() and f"\n{NOTES}" in path.read_text():
        notes = path.read_text()[path.read_text().index(f"\n{NOTES}") :]
    path.parent.mkdir(parents=True, exist_ok=True)
    # One final newline, whatever the hand-edited notes end with (pre-commit's end-of-file-fixer).
    path.write_text((text.rstrip("\n") + "\n" + notes).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per warm figure (median)")
    parser.add_argument("--quick", action="store_true", help="skip the cold runs")
    parser.add_argument("--write", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlci-bench-") as tmp:
        bench = Bench(Path(tmp), args.repeat)
        bench.quick = args.quick
        print(f"mlci benchmark on {machine()}", flush=True)
        bench.plan()
        bench.mlci()
        bench.baseline()
        from scale import ScaleBench  # imports this module's helpers

        ScaleBench(bench).all()
        sizes = torch_bytes()
        text = report(bench.results, sizes, args.repeat)
    print()
    print(text)
    if args.write:
        write_report(args.write, text)


if __name__ == "__main__":
    main()
