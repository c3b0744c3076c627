"""`mlci plan`: turn the CI inputs into the jobs to run, or reject them in seconds.

Both CI front ends start with this step, so a bad input fails before any 3 GB install. Every
problem is reported at once, one line each, naming the input, the bad value and the choices.
Duplicated list entries are dropped with a warning (the first occurrence is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mlci.compat import TorchRelease, load
from mlci.options import OPTIONS
from mlci.settings import ConfigError, Settings

GITHUB_DEFAULT_RUNNER = ("ubuntu-latest",)
# Job time limits: a CPU session, and a GPU session (which also installs a CUDA torch).
TIMEOUT_MINUTES = {"cpu": 60, "gpu": 90}
# The session's own step stops this much earlier, so that a hung job still reports and uploads.
REPORT_MINUTES = 5


@dataclass(frozen=True)
class Job:
    """One CI job (a matrix leg): which nox session, on which Python, torch build and runner."""

    name: str
    session: str
    python: str
    torch_backend: str
    runner: tuple[str, ...]
    container: str = ""
    # A file the job keeps from one CI run to the next (testmon's data), from the repository root.
    carry: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.session == "gpu"

    @property
    def id(self) -> str:
        """Unique among a plan's jobs: `unit-3.11`, `gpu-cu128` (artifact and report names)."""
        return f"gpu-{self.torch_backend}" if self.is_gpu else self.session

    def as_dict(self, default_runner: tuple[str, ...] = ()) -> dict[str, Any]:
        """One matrix leg. `gpu-backends` is empty on CPU legs (empty counts as unset)."""
        return {
            "id": self.id,
            "name": self.name,
            "session": self.session,
            "python": self.python,
            "torch-backend": self.torch_backend,
            "gpu-backends": self.torch_backend if self.is_gpu else "",
            "runs-on": list(self.runner or default_runner),
            "container": self.container,  # empty: on the runner itself
            "timeout-minutes": self.timeout_minutes,
            "session-timeout-minutes": self.timeout_minutes - REPORT_MINUTES,
            "carry": self.carry,  # empty: nothing to keep
        }

    @property
    def timeout_minutes(self) -> int:
        return TIMEOUT_MINUTES["gpu" if self.is_gpu else "cpu"]


@dataclass(frozen=True)
class Plan:
    settings: Settings
    torch: TorchRelease | None
    sessions: tuple[str, ...]
    python_versions: tuple[str, ...]
    jobs: tuple[Job, ...]
    gpu_jobs: tuple[Job, ...]
    warnings: tuple[str, ...]


def _dedupe(name: str, values: tuple[str, ...], warnings: list[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for value in values:
        if value in seen:
            warnings.append(f"{name}: {value} is listed more than once; it runs once")
        else:
            seen.append(value)
    return tuple(seen)


def make_plan(settings: Settings, earlier: list[str] | None = None) -> Plan:
    """The jobs for these settings; raise ConfigError with one line per problem.

    `earlier`: problems already found while reading the settings, reported with these.
    """
    problems: list[str] = list(earlier or [])
    warnings: list[str] = []
    sessions = _dedupe("sessions", settings.items("sessions"), warnings)
    pythons = _dedupe("python-versions", settings.python_versions, warnings)
    gpu_backends = _dedupe("gpu-backends", settings.items("gpu-backends"), warnings)
    gpu_runner = settings.items("gpu-runner")
    container = settings.text("gpu-container")

    torch = _torch_release(settings.text("torch-version"), problems)
    problems += _backend_problems(settings.text("torch-backend"))
    if torch is not None and (settings.text("torch-backend") != "none" or gpu_runner):
        problems += [
            f"python-versions: {python} is not available for torch {torch.version}"
            f" (has {', '.join(torch.pythons)})"
            for python in pythons
            if python not in torch.pythons
        ]

    gpu_asked = "gpu" in sessions and not settings.values["sessions"].source.startswith("default")
    gpu_on = "gpu" in sessions and bool(gpu_runner)
    if gpu_asked and not gpu_runner:
        problems.append(
            'gpu-runner: the gpu session needs a GPU runner (labels or tags, e.g. ["gpu"]);'
            " give one or drop gpu from sessions"
        )
    if gpu_runner and "gpu" not in sessions:
        warnings.append("gpu-runner is given but sessions has no gpu: no GPU job runs")
    if gpu_on and torch is not None:
        problems += _gpu_backend_problems(gpu_backends, torch)

    jobs = _cpu_jobs(settings, sessions, pythons)
    gpu_jobs = (
        tuple(
            Job(f"gpu ({build})", "gpu", pythons[0], build, gpu_runner, container)
            for build in gpu_backends
        )
        if gpu_on and pythons
        else ()
    )
    if not jobs and not gpu_jobs and not problems:
        problems.append(
            "sessions: nothing to run (only gpu is asked for, and no gpu-runner is given)"
        )
    if problems:
        raise ConfigError(*problems, warnings=tuple(warnings))
    return Plan(settings, torch, sessions, pythons, jobs, gpu_jobs, tuple(warnings))


def _torch_release(wanted: str, problems: list[str]) -> TorchRelease | None:
    compat = load()
    torch = compat.release(wanted) if wanted else compat.newest
    if torch is None:
        known = ", ".join(sorted(compat.releases, key=_key))
        problems.append(f"torch-version: {wanted} is not a release mlci knows (knows {known})")
    return torch


def _backend_problems(backend: str) -> list[str]:
    if backend.startswith("cu"):
        return [
            f"torch-backend: {backend} is a CUDA build; CPU jobs use cpu"
            " (CUDA builds go in gpu-backends)"
        ]
    if backend not in ("cpu", "none"):
        return [f"torch-backend: {backend} is not supported yet (use cpu, or none)"]
    return []


def _gpu_backend_problems(builds: tuple[str, ...], torch: TorchRelease) -> list[str]:
    has = ", ".join(torch.cuda)
    if not builds:
        return [f"gpu-backends: the list is empty (choose from {has})"]
    return [
        f"gpu-backends: {build} is not a CUDA build of torch {torch.version} (has {has})"
        for build in builds
        if build not in torch.cuda
    ]


def _cpu_jobs(
    settings: Settings, sessions: tuple[str, ...], pythons: tuple[str, ...]
) -> tuple[Job, ...]:
    if not pythons:
        return ()
    runner = settings.items("runner")
    backend = settings.text("torch-backend")
    jobs: list[Job] = []
    for session in sessions:
        if session == "gpu":
            continue
        if session == "unit":
            carry = testmon_data(settings) if settings.flag("testmon") else ""
            jobs += [
                Job(f"unit ({p})", f"unit-{p}", p, backend, runner, carry=carry) for p in pythons
            ]
        else:
            jobs.append(Job(session, session, pythons[0], backend, runner))
    return tuple(jobs)


def testmon_data(settings: Settings) -> str:
    """testmon's data file, from the repository root: what a testmon job carries between runs."""
    return str(PurePosixPath(settings.text("working-directory")) / ".testmondata")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# --- output -----------------------------------------------------------------------------------


def resolved_values(plan: Plan) -> dict[str, Any]:
    """The CI inputs after planning (deduplicated, defaults filled), by option name."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.ci:
            value = plan.settings[option.name]
            values[option.name] = list(value) if isinstance(value, tuple) else value
    values["sessions"] = list(plan.sessions)
    values["python-versions"] = list(plan.python_versions)
    values["torch-version"] = plan.torch.version if plan.torch else ""
    values["gpu-backends"] = [job.torch_backend for job in plan.gpu_jobs] or values["gpu-backends"]
    return values


def as_json(plan: Plan) -> dict[str, Any]:
    return {
        "jobs": [job.as_dict(GITHUB_DEFAULT_RUNNER) for job in plan.jobs],
        "gpu-jobs": [job.as_dict() for job in plan.gpu_jobs],
        "settings": resolved_values(plan),
        "warnings": list(plan.warnings),
    }
