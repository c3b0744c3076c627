"""How a plan is written for each consumer: GitHub step outputs, a GitLab dotenv, people."""

from __future__ import annotations

import json
from typing import Any

from mlci.planner import GITHUB_DEFAULT_RUNNER, Plan, resolved_values


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
        "working-directory": plan.settings.text("working-directory"),
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
    """A dotenv report: the resolved inputs as MLCI_* variables for the jobs that follow."""
    lines = []
    for name, value in resolved_values(plan).items():
        text = _dotenv_value(value)
        if text:
            lines.append(f"MLCI_{name.upper().replace('-', '_')}={text}")
    lines.append(f"MLCI_PLAN_HAS_GPU={str(bool(plan.gpu_jobs)).lower()}")
    return "".join(line + "\n" for line in lines)


def table(plan: Plan) -> str:
    """A human table of which job runs where, with which torch build."""
    torch = plan.torch
    head = "torch: not used"
    if torch:
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
    if not plan.gpu_jobs:
        body.append("(no GPU job: give gpu-runner to add one)")
    return "\n".join([head, "", *body]) + "\n"
