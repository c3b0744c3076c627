"""`mlci plan`: turn the CI inputs into the jobs to run, or reject them in seconds.

Both CI front ends start with this step, so a bad input fails before any 3 GB install. Every
problem is reported at once, one line each, naming the input, the bad value and the choices.
The settings and the project are checked by `validation.check`, the same check `nox` and
`mlci sessions` make; this module adds what only CI has: runners and GPU jobs. Everything a CI
job uses (session, runner, report folder, artifact and cache names, time limits) is in its leg.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any

from mlci.ci import selection
from mlci.ci.selection import Decision, Mode
from mlci.compat import TorchRelease
from mlci.config.options import Origin
from mlci.config.settings import Settings
from mlci.envs import disk
from mlci.errors import ConfigError
from mlci.project.files import REPORTS
from mlci.session import downloads, flaky, shards, test_map
from mlci.session.registry import BY_NAME, SessionDef, records_test_map
from mlci.session.test_map import file_of
from mlci.session.validation import Choice, check

GITHUB_DEFAULT_RUNNER = ("ubuntu-latest",)
# Job time limits: a CPU session, and a GPU session (which also installs a CUDA torch).
TIMEOUT_MINUTES = {"cpu": 60, "gpu": 90}
# The session's own step stops this much earlier, so that a hung job still reports and uploads.
REPORT_MINUTES = 5


@dataclass(frozen=True)
class Job:
    """One CI job (a matrix leg): which nox session, on which Python, torch build and runner."""

    name: str
    session: str  # the nox session: `unit-3.11`, `lint`, `gpu`
    python: str
    torch_backend: str
    runner: tuple[str, ...]
    reports: str  # its report folder, from the repository root
    prefix: str = ""  # tells this call's legs apart from another call's (call-id / folder)
    container: str = ""
    # A file the job keeps from one CI run to the next (testmon's data), from the repository root.
    carry: str = ""
    shard: str = ""  # `2/3`: one shard of unit (MLCI_SHARD)
    # The carried durations a shard splits by (restored, never saved: the combine job saves).
    durations: str = ""
    # The test map this leg records for gpu-select, from the repository root ("" for none).
    test_map: str = ""
    # downloads-key: the folder of what this leg's tests download, and the file keying its
    # cache, from the repository root ("" for none).
    downloads: str = ""
    downloads_key: str = ""
    # unit-select: the test files this unit leg runs, or "none" ("" for all of them).
    unit_tests: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.session == "gpu"

    @property
    def in_image(self) -> bool:
        return self.is_gpu and self.torch_backend == "image"

    @property
    def id(self) -> str:
        """Unique among a plan's jobs: `unit-3.11`, `unit-3.11-shard-2`, `gpu-cu128`."""
        if self.is_gpu:
            return f"gpu-{self.torch_backend}"
        return f"{self.session}-shard-{self.shard.split('/')[0]}" if self.shard else self.session

    @property
    def key(self) -> str:
        """Unique among the legs of every call in a run: artifact and cache names."""
        return f"{self.prefix}-{self.id}" if self.prefix else self.id

    @property
    def timeout_minutes(self) -> int:
        return TIMEOUT_MINUTES["gpu" if self.is_gpu else "cpu"]

    def as_dict(self, default_runner: tuple[str, ...] = ()) -> dict[str, Any]:
        """One matrix leg. `gpu-backends` is empty on CPU legs (empty counts as unset)."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "session": self.session,
            "python": self.python,
            "torch-backend": self.torch_backend,
            # Image legs use the image's torch: no build to name.
            "gpu-backends": self.torch_backend if self.is_gpu and not self.in_image else "",
            "runs-on": list(self.runner or default_runner),
            "container": self.container,  # empty: on the runner itself
            "timeout-minutes": self.timeout_minutes,
            "session-timeout-minutes": self.timeout_minutes - REPORT_MINUTES,
            "reports": self.reports,
            "carry": self.carry,  # empty: nothing to keep
            "shard": self.shard,  # empty: the whole of the session
            "durations": self.durations,  # empty: nothing to restore
            "test-map": self.test_map,  # empty: this leg records none
            "downloads": self.downloads,  # empty: nothing cached of what the tests download
            "downloads-key": self.downloads_key,
            "unit-tests": self.unit_tests,  # empty: every unit test
            # The cache key it saves the map under (with the commit appended).
            "test-map-key": f"{test_map_key(self.prefix)}{self.id}-" if self.test_map else "",
            # uv's cache this leg's entry holds, estimated (GPU legs keep none on GitHub).
            "cache-mb": 0 if self.is_gpu else disk.CACHE[disk.kind(self.torch_backend)] // disk.MB,
        }


@dataclass(frozen=True)
class Plan:
    """The jobs of one CI run, with the settings and the session choice they came from."""

    settings: Settings
    choice: Choice
    torch: TorchRelease | None
    sessions: tuple[str, ...]
    python_versions: tuple[str, ...]
    jobs: tuple[Job, ...]
    gpu_jobs: tuple[Job, ...]
    warnings: tuple[str, ...]
    # The job that combines the unit shards (None: unit is not sharded).
    combine: dict[str, Any] | None = None
    # Why the gpu legs run or were left out under gpu-select: one line ("" when it is off).
    selection: str = ""
    # Where the plan job restores the test maps before deciding (None: no decision to make).
    test_maps: dict[str, str] | None = None
    # Which unit tests run under unit-select, one line ("" when it is off).
    unit_selection: str = ""

    @property
    def may_skip(self) -> tuple[str, ...]:
        """Jobs the required check lets be skipped: the combine job, when there is none, and
        the legs, when gpu-select left out the only ones (the plan says why)."""
        skipped = () if self.combine else ("combine",)
        return skipped if self.jobs or self.gpu_jobs else (*skipped, "session")


def make_plan(
    settings: Settings,
    earlier: list[str] | None = None,
    *,
    static_jobs: bool = False,
    select: bool = True,
) -> Plan:
    """The jobs for these settings; raise ConfigError with one line per problem.

    earlier: problems already found while reading the settings, reported with these.
    static_jobs: the CI system made one job per session before any job could read the project
    (GitLab): a session left out for having nothing to check is then an error.
    select=False: plan the gpu legs without gpu-select's decision; the plan then names the test
    maps to restore first (`test_maps`), when there is a decision to make.
    """
    problems: list[str] = []
    warnings: list[str] = list(settings.warnings)
    try:
        choice = check(settings, earlier)
        warnings += choice.warnings
    except ConfigError as err:
        problems += err.problems
        warnings += err.warnings
        choice = Choice(())
    if static_jobs:
        problems += [
            f"sessions: {name} has nothing to check ({why}), but the template has a job for it:"
            " list the sessions to run in the template's `sessions` input"
            for name, why in choice.left_out.items()
            if name != "gpu"
        ]
        problems += _shards_given_too_late(settings)

    gpu_runner = settings.gpu_runner
    gpu_listed = settings.given("sessions") and "gpu" in settings.sessions
    gpu_chosen = "gpu" in choice.names
    if gpu_listed and not gpu_runner:
        problems.append(
            'gpu-runner: the gpu session needs a GPU runner (labels or tags, e.g. ["gpu"]);'
            " give one or drop gpu from sessions"
        )
    if gpu_runner and not gpu_chosen and not problems:
        why = choice.left_out.get("gpu", "sessions has no gpu")
        warnings.append(f"gpu-runner is given but no GPU job runs: {why}")
    torch = choice.torch
    in_image = settings.gpu_torch == "image"
    if gpu_runner and gpu_chosen and in_image:
        problems += _image_problems(settings)
    elif gpu_runner and gpu_chosen and torch is not None:
        problems += _gpu_backend_problems(settings.gpu_backends, torch)

    pythons = settings.python_versions
    jobs = _cpu_jobs(settings, choice, pythons)
    gpu_jobs: tuple[Job, ...] = ()
    if gpu_runner and gpu_chosen and pythons:
        gpu_jobs = tuple(
            _job(
                settings,
                f"gpu ({build})",
                "gpu",
                pythons[0],
                build,
                gpu_runner,
                container=settings.gpu_container,
                map_path=test_maps(settings)["gpu"] if settings.gpu_select != "off" else "",
            )
            # One leg per image: its torch decides the CUDA build (the leg's log names it).
            for build in (("image",) if in_image else settings.gpu_backends)
        )
    jobs, gpu_jobs, selected_why, unit_why, maps = _selected(
        settings, jobs, gpu_jobs, warnings, select=select
    )
    if not jobs and not gpu_jobs and not problems and not selected_why:
        problems.append(
            "sessions: nothing to run (only gpu is asked for, and no gpu-runner is given)"
        )
    if problems:
        raise ConfigError(*problems, warnings=tuple(dict.fromkeys(warnings)))
    caches = cache_entries(jobs)
    total = sum(caches.values())
    if total > settings.cache_budget_gb * disk.GB:
        warnings.append(
            f"caches: this call's uv caches come to about {disk.shown(total)} in"
            f" {len(caches)} entries, over cache-budget-gb {settings.cache_budget_gb:g}: GitHub"
            " evicts the oldest beyond its 10 GB; use fewer Python versions or torch builds"
        )
    # What `sessions` names (a session another implies, like coverage, comes with it).
    names = tuple(
        session.name
        for session in choice.sessions
        if session.implied_by is None and (not session.gpu or gpu_jobs)
    )
    return Plan(
        settings,
        choice,
        torch,
        names,
        pythons,
        jobs,
        gpu_jobs,
        tuple(dict.fromkeys(warnings)),
        _combine(settings, jobs),
        selected_why,
        None if select else maps,
        unit_why,
    )


def test_map_key(key: str) -> str:
    """The cache key prefix of this call's test maps (one call's never meets another's)."""
    return f"mlci-test-map-{key + '-' if key else ''}"


def test_maps(settings: Settings) -> dict[str, str]:
    """Where the legs that record a test map keep it (from the repository root), and the cache
    key prefix they save it under: `<key>unit-`, `<key>gpu-`."""
    folder = PurePosixPath(settings.working_directory) / test_map.FOLDER
    return {
        "key": test_map_key(prefix(settings)),
        "unit": str(folder / "unit.json"),
        "gpu": str(folder / "gpu.json"),
    }


def _selected(
    settings: Settings,
    jobs: tuple[Job, ...],
    gpu_jobs: tuple[Job, ...],
    warnings: list[str],
    *,
    select: bool,
) -> tuple[tuple[Job, ...], tuple[Job, ...], str, str, dict[str, str] | None]:
    """gpu-select and unit-select: the legs left, why (a line each, "" when off), and the test
    maps a first plan (select=False) names for the plan job to restore."""
    gpu_why = unit_why = ""
    deciding_gpu = bool(gpu_jobs) and settings.gpu_select != "off"
    deciding_unit = settings.unit_select != "all" and any(_selectable(job) for job in jobs)
    deciding = deciding_gpu or deciding_unit
    maps = test_maps(settings) if deciding and settings.event == "pull_request" else None
    if deciding and select:
        carried = _carried(settings, warnings)
        if deciding_gpu:
            decision = gpu_decision(settings, carried)
            gpu_why = decision.reason
            gpu_jobs = gpu_jobs if decision.run else ()
        if deciding_unit:
            chosen = unit_decision(settings, carried)
            unit_why = chosen.reason
            jobs = tuple(_with_unit_tests(settings, job, chosen) for job in jobs)
    return jobs, gpu_jobs, gpu_why, unit_why, maps


@dataclass(frozen=True)
class _Carried:
    """What the plan decides from: the carried test maps, merged, and the changed files."""

    found: test_map.TestMap | None
    changed: list[str] | None  # None: unknown (everything runs)


def _carried(settings: Settings, warnings: list[str]) -> _Carried:
    changed = _changed_files(settings, warnings) if settings.diff_base else None
    found, unreadable = test_map.load_carried(settings.root)
    warnings += [f"test map: {line}, left out" for line in unreadable]
    return _Carried(found, changed)


def _decide(
    settings: Settings, carried: _Carried, label: str, tests: frozenset[str], mode: Mode
) -> Decision:
    return selection.decide(
        changed=carried.changed,
        test_map=carried.found,
        now=datetime.now(timezone.utc),
        max_age=timedelta(days=settings.test_map_max_age_days),
        event=settings.event or "other",
        always=settings.select_always,
        selected_tests=tests,
        mode=mode,
        label=label,
    )


def gpu_decision(settings: Settings, carried: _Carried) -> Decision:
    """Whether the gpu legs run, from the carried test maps and the changed files (selection.py):
    everything runs unless all of it says a pull request cannot reach a gpu test."""
    found = carried.found
    gpu_tests = found.marker_tests.get("gpu", frozenset()) if found else frozenset()
    return _decide(settings, carried, "gpu", gpu_tests, "all")


# The longest list of test files a plan hands the unit legs (GitLab's dotenv report holds at
# most 5 KB): a longer one runs every unit test.
UNIT_TESTS_MAX_CHARS = 2000


def unit_decision(settings: Settings, carried: _Carried) -> Decision:
    """Which unit tests a pull request runs under unit-select: those the change can reach."""
    found = carried.found
    gpu_tests = found.marker_tests.get("gpu", frozenset()) if found else frozenset()
    unit_tests = frozenset(found.tests) - gpu_tests if found else frozenset()
    decision = _decide(settings, carried, "unit", unit_tests, "affected")
    files = ",".join(sorted({file_of(node_id) for node_id in decision.tests or ()}))
    if len(files) > UNIT_TESTS_MAX_CHARS:
        return Decision(
            True,
            None,
            f"unit: all tests, the {len(files)} characters of the test"
            " files the change reaches are more than a CI variable carries",
        )
    return decision


def _selectable(job: Job) -> bool:
    """A unit leg unit-select may narrow: not a shard (the shards' whole is proven complete)."""
    return job.session.startswith("unit") and not job.shard


def _with_unit_tests(settings: Settings, job: Job, decision: Decision) -> Job:
    if not _selectable(job) or decision.tests is None:
        return job
    # A test file the change deleted has no test left to run (pytest would refuse its path).
    files = sorted(
        {
            file_of(node_id)
            for node_id in decision.tests
            if (settings.root / file_of(node_id)).is_file()
        }
    )
    # A selection records no map (a part of the tests), and "none" skips the session.
    return dataclasses.replace(job, unit_tests=",".join(files) or "none", test_map="")


def _changed_files(settings: Settings, warnings: list[str]) -> list[str] | None:
    """What the change touches, from git: None (everything runs) when git cannot say."""
    done = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", settings.diff_base, "HEAD", "--"],
        cwd=settings.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        warnings.append(f"diff-base: git diff {settings.diff_base} HEAD failed: {why}")
        return None
    top = subprocess.run(
        ["git", "rev-parse", "--show-prefix"],
        cwd=settings.root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return _in_project(done.stdout.splitlines(), top or ".")


def _in_project(paths: list[str], working_directory: str) -> list[str]:
    """git's paths are from the repository root, the map's from the project's folder: a path in
    the project loses its folder; one outside it stays whole (the map knows no such file)."""
    folder = PurePosixPath(working_directory)
    found = []
    for line in paths:
        path = PurePosixPath(line.strip())
        if not line.strip():
            continue
        if str(folder) != "." and path.is_relative_to(folder):
            path = path.relative_to(folder)
        found.append(str(path))
    return found


def cache_entries(jobs: tuple[Job, ...]) -> dict[str, int]:
    """The uv cache entries the CPU legs save (one per Python and torch build, as the workflow
    keys them; GPU legs save none), and the estimated size of each."""
    return {
        f"{job.python}-{job.torch_backend}": disk.CACHE[disk.kind(job.torch_backend)]
        for job in jobs
    }


def _shards_given_too_late(settings: Settings) -> list[str]:
    """GitLab makes the shard jobs from the template's input before a job reads pyproject.toml,
    so a `unit-shards` there that the input contradicts would be silently ignored."""
    table = settings.project.tool("mlci")
    wanted = table.get("unit-shards") if isinstance(table, dict) else None
    if wanted is None or settings.origin("unit-shards") is not Origin.ENV:
        return []
    if wanted == settings.unit_shards:
        return []
    return [
        f"unit-shards: [tool.mlci] says {wanted}, but the template's unit-shards input is"
        f" {settings.unit_shards}: GitLab makes the shard jobs before any job reads"
        f" pyproject.toml, so set the input to {wanted} (and drop it from [tool.mlci])"
    ]


def _combine(settings: Settings, jobs: tuple[Job, ...]) -> dict[str, Any] | None:
    """What the combine job uses: where the shards' reports are and what it carries on."""
    if not any(job.shard for job in jobs):
        return None
    key = prefix(settings)
    named = f"{key}-" if key else ""
    folder = PurePosixPath(settings.working_directory)
    return {
        "runs-on": list(settings.runner or GITHUB_DEFAULT_RUNNER),
        "timeout-minutes": TIMEOUT_MINUTES["cpu"],
        "session-timeout-minutes": TIMEOUT_MINUTES["cpu"] - REPORT_MINUTES,
        "artifacts": f"mlci-reports-{named}unit-*-shard-*",
        "downloads": str(folder / REPORTS / "shards"),
        "reports": str(folder / REPORTS),
        "artifact": f"mlci-reports-{named}coverage",
        "durations": str(folder / shards.DURATIONS),
        "durations-key": durations_key_for(key),
        # The plan job hands the durations to every shard as this artifact, into this folder.
        "durations-artifact": f"mlci-durations-{named}run",
        "durations-folder": str(folder),
    }


def durations_key_for(key: str) -> str:
    """The cache key prefix of the carried durations (one per call of the workflow)."""
    return f"mlci-durations-{key + '-' if key else ''}"


def _image_problems(settings: Settings) -> list[str]:
    """gpu-torch = image: one leg per image, and never the long-lived host's own Python."""
    found = []
    if len(settings.gpu_backends) > 1:
        found.append(
            f"gpu-backends: {', '.join(settings.gpu_backends)} would be"
            f" {len(settings.gpu_backends)} identical legs: with gpu-torch = image the image's"
            " torch decides the CUDA build, one leg per image; give at most one, or use"
            " gpu-torch = build"
        )
    if not settings.gpu_container and not settings.gpu_runner_ephemeral:
        found.append(
            "gpu-torch = image: without gpu-container the gpu leg uses the first python3 with"
            " torch on the runner itself, a long-lived machine's own; give gpu-container, or"
            " set gpu-runner-ephemeral: true if the runner is thrown away after each job"
        )
    return found


def _gpu_backend_problems(builds: tuple[str, ...], torch: TorchRelease) -> list[str]:
    has = ", ".join(torch.cuda)
    if not builds:
        return [f"gpu-backends: the list is empty (choose from {has})"]
    return [
        f"gpu-backends: {build} is not a CUDA build of torch {torch.version} (has {has})"
        for build in builds
        if build not in torch.cuda
    ]


def prefix(settings: Settings) -> str:
    """What sets this call's artifact and cache names apart: call-id, else the project folder."""
    if settings.call_id:
        return settings.call_id
    folder = str(PurePosixPath(settings.working_directory))
    return "" if folder == "." else re.sub(r"[^A-Za-z0-9._-]+", "-", folder).strip("-")


def _job(
    settings: Settings,
    name: str,
    session: str,
    python: str,
    backend: str,
    runner: tuple[str, ...],
    *,
    container: str = "",
    carry: str = "",
    shard: str = "",
    durations: str = "",
    map_path: str = "",
) -> Job:
    folder = f"{session}-shard-{shard.split('/')[0]}" if shard else session
    here = PurePosixPath(settings.working_directory)
    reports = here / REPORTS / folder
    definition = BY_NAME.get(session.split("-")[0])
    if settings.quarantine and definition is not None and definition.runs_tests:
        # Each quarantined test's passes in a row, carried from run to run (flaky.py).
        history = str(here / flaky.HISTORY)
        carry = f"{carry}\n{history}" if carry else history
    fetches = bool(settings.downloads_key) and definition is not None
    fetches = fetches and definition is not None and definition.runs_project_code
    return Job(
        name,
        session,
        python,
        backend,
        runner,
        reports=str(reports),
        prefix=prefix(settings),
        container=container,
        carry=carry,
        shard=shard,
        durations=durations,
        test_map=map_path,
        downloads=str(here / downloads.FOLDER) if fetches else "",
        downloads_key=str(here / settings.downloads_key) if fetches else "",
    )


def _cpu_jobs(settings: Settings, choice: Choice, pythons: tuple[str, ...]) -> tuple[Job, ...]:
    if not pythons:
        return ()
    runner = settings.runner
    backend = settings.torch_backend
    jobs: list[Job] = []
    for definition in choice.sessions:
        if definition.gpu:
            continue
        if definition.implied_by is not None:
            continue  # its own job (the combine job), not a leg
        if definition.per_python:
            jobs += _per_python(settings, definition, pythons)
        else:
            jobs.append(
                _job(settings, definition.name, definition.name, pythons[0], backend, runner)
            )
    return tuple(jobs)


def _per_python(settings: Settings, definition: SessionDef, pythons: tuple[str, ...]) -> list[Job]:
    """One leg per Python, or per Python and shard (unit with unit-shards > 1)."""
    runner, backend = settings.runner, settings.torch_backend
    carry = testmon_data(settings) if settings.testmon else ""
    count = settings.unit_shards if definition.name == "unit" else 1
    durations = str(PurePosixPath(settings.working_directory) / shards.DURATIONS)
    jobs: list[Job] = []
    for python, session in zip(pythons, definition.nox_names(settings), strict=True):
        if count == 1:
            name = f"{definition.name} ({python})"
            records = records_test_map(settings, definition.name, python, sharded=False)
            found = test_maps(settings)["unit"] if records else ""
            leg = _job(
                settings, name, session, python, backend, runner, carry=carry, map_path=found
            )
            jobs.append(leg)
            continue
        jobs += [
            _job(
                settings,
                f"{definition.name} ({python}, {index}/{count})",
                session,
                python,
                backend,
                runner,
                shard=f"{index}/{count}",
                durations=durations,
            )
            for index in range(1, count + 1)
        ]
    return jobs


def testmon_data(settings: Settings) -> str:
    """testmon's data file, from the repository root: what a testmon job carries between runs."""
    return str(PurePosixPath(settings.working_directory) / ".testmondata")
