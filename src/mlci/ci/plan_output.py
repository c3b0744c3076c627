"""How a plan is written for each consumer: GitHub step outputs, a GitLab dotenv, JSON, people."""

from __future__ import annotations

import json
from typing import Any

from mlci.ci.planner import GITHUB_DEFAULT_RUNNER, Plan, cache_entries
from mlci.config.checks import redact
from mlci.config.option_table import OPTIONS
from mlci.config.options import env_var
from mlci.envs import disk

# Never written into a report or an output: later jobs read it from their own input/variable.
SECRET_BEARING = ("torch-index",)


def resolved_values(plan: Plan) -> dict[str, Any]:
    """The CI inputs after planning (deduplicated, defaults filled), by option name."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.ci:
            value = getattr(plan.settings, option.attribute)
            values[option.name] = list(value) if isinstance(value, tuple) else value
    values["sessions"] = list(plan.sessions)
    values["python-versions"] = list(plan.python_versions)
    values["torch-version"] = plan.torch.version if plan.torch else ""
    values["gpu-backends"] = [job.torch_backend for job in plan.gpu_jobs] or values["gpu-backends"]
    values["torch-index"] = redact(values["torch-index"])
    return values


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def github(plan: Plan) -> str:
    """`key=value` lines for $GITHUB_OUTPUT; matrices are JSON for `fromJSON`."""
    legs = [job.as_dict(GITHUB_DEFAULT_RUNNER) for job in (*plan.jobs, *plan.gpu_jobs)]
    lines = {
        # One matrix for every job, GPU legs included: one job definition in the workflow.
        "matrix": _compact({"include": legs}),
        "has-gpu": str(bool(plan.gpu_jobs)).lower(),
        "sessions": _compact([*plan.sessions]),
        "python": plan.python_versions[0],
        "torch-version": plan.torch.version if plan.torch else "",
        "working-directory": plan.settings.working_directory,
        # The combine job of a sharded unit (empty: none), and what the required check allows
        # to be skipped.
        "combine": _compact(plan.combine) if plan.combine else "",
        "may-skip": ",".join(plan.may_skip),
        # Why the gpu legs run or were left out under gpu-select (empty when it is off).
        "selection": plan.selection,
        # The test maps to restore before gpu-select decides (empty: no decision to make).
        "test-maps": _compact(plan.test_maps) if plan.test_maps else "",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def _dotenv_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def gitlab(plan: Plan) -> str:
    """A dotenv report: the resolved inputs as MLCI_* variables for the jobs that follow.

    The torch index is left out: it may carry credentials, and a dotenv report is an artifact
    anyone with access to the pipeline can download; the jobs have it from the template.
    """
    lines = []
    for name, value in resolved_values(plan).items():
        text = _dotenv_value(value)
        if text and name not in SECRET_BEARING:
            lines.append(f"{env_var(name)}={text}")
    lines.append(f"MLCI_PLAN_HAS_GPU={str(bool(plan.gpu_jobs)).lower()}")
    # unit-select's choice, the same for every unit job (GitLab makes them before the plan).
    chosen = {job.unit_tests for job in plan.jobs if job.unit_tests}
    if chosen:
        # A part of the tests keeps no map: its jobs save under another key (mlci.yml).
        lines += [f"MLCI_UNIT_TESTS={chosen.pop()}", "MLCI_UNIT_MAP_SUFFIX=-part"]
    return "".join(line + "\n" for line in lines)


def as_json(plan: Plan) -> dict[str, Any]:
    return {
        "jobs": [job.as_dict(GITHUB_DEFAULT_RUNNER) for job in plan.jobs],
        "gpu-jobs": [job.as_dict() for job in plan.gpu_jobs],
        "settings": resolved_values(plan),
        "combine": plan.combine,
        "left-out": dict(plan.choice.left_out),
        "selection": plan.selection,
        "unit-selection": plan.unit_selection,
        "warnings": list(plan.warnings),
    }


def table(plan: Plan) -> str:
    """A human table of which job runs where, with which torch build."""
    torch = plan.torch
    head = "torch: not used"
    if torch and plan.settings.torch_backend != "none":
        head = f"torch {torch.version}: Python {', '.join(torch.pythons)};"
        head += f" CUDA builds {', '.join(torch.cuda)}"
    rows = [("JOB", "NOX SESSION", "PYTHON", "TORCH", "RUNNER")]
    for job in (*plan.jobs, *plan.gpu_jobs):
        runner = ", ".join(job.runner) or "(default: ubuntu-latest on GitHub, any runner on GitLab)"
        rows.append((job.name, job.session, job.python, job.torch_backend, runner))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    body = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        for row in rows
    ]
    if plan.combine:
        body.append("coverage  (after the unit shards: their coverage combined, then the gate)")
    caches = cache_entries(plan.jobs)
    if caches:
        total = disk.shown(sum(caches.values()))
        budget = plan.settings.cache_budget_gb
        body.append(
            f"(caches: about {total} of uv's cache in {len(caches)} entries; budget {budget:g} GB)"
        )
    body += [f"(left out: {name}: {why})" for name, why in plan.choice.left_out.items()]
    if plan.unit_selection:
        body.append(f"({plan.unit_selection})")
    if plan.selection:
        body.append(f"({plan.selection})")
    elif not plan.gpu_jobs:
        body.append("(no GPU job: give gpu-runner to add one)")
    return "\n".join([head, "", *body]) + "\n"
