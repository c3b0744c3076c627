"""GitLab: what started the pipeline, and the child pipeline that holds the gpu jobs.

GitLab makes a pipeline's jobs before any job runs, and `rules:` cannot read what a job
decides (dotenv variables come later), so a GPU job left out by gpu-select cannot be a job
of the pipeline itself. mlci-gpu.yml's `mlci-gpu` is a trigger job instead: it takes no runner
and starts the child pipeline that mlci-plan writes here, one job per CUDA build on the GPU
runner, or, when gpu-select left them out, one job on mlci-plan's own kind of runner that
says why. The trigger waits for the child and takes its status (`strategy: depend`), so a gpu
job that fails fails the pipeline, and one left out for a stated reason passes it.

The child is written as data (JSON, which YAML reads as it is) from values mlci has already
checked; nothing a change can write reaches it as YAML. Its job repeats what mlci.yml's
`.mlci-job` gives every job (the install of mlci, uv's cache, the reports), which a child
pipeline cannot inherit; tests/test_gitlab_files.py keeps the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlci.ci.planner import REPORT_MINUTES, TIMEOUT_MINUTES, Plan, test_map_key
from mlci.config.checks import redact
from mlci.errors import ConfigError
from mlci.project.files import REPORTS

FILE = "mlci-gpu-pipeline.yml"  # mlci-plan's artifact; mlci-gpu.yml's trigger includes it
JOB = "mlci-gpu"
# mlci.yml's `.mlci-job` for each of these (tests/test_gitlab_files.py compares them).
INSTALL = [
    'uv tool install --quiet --with-executables-from nox "git+${MLCI_REPOSITORY}@${MLCI_VERSION}"',
    'export PATH="$(uv tool dir --bin):$PATH"',
]
RETRY = {
    "max": 2,
    "when": [
        "runner_system_failure",
        "api_failure",
        "scheduler_failure",
        "data_integrity_failure",
    ],
}
NOTE_MINUTES = 10  # the job that only says why no gpu job runs
# What the jobs install mlci from: template variables, not settings (see mlci.yml).
_FROM_TEMPLATE = ("MLCI_REPOSITORY", "MLCI_VERSION")


def event(environ: Mapping[str, str]) -> tuple[str, str]:
    """gpu-select's event and diff base, from GitLab's predefined variables.

    A merge request pipeline is a pull request, measured from the merge base (a detached
    pipeline runs the source branch's head) or from the target branch's head (a merged-results
    pipeline runs their merge); a merge train runs everything, as GitHub's merge queue does.
    """
    source = environ.get("CI_PIPELINE_SOURCE", "")
    if source == "merge_request_event":
        kind = environ.get("CI_MERGE_REQUEST_EVENT_TYPE", "")
        if kind == "merge_train":
            return "merge_train", ""
        if kind == "merged_result":
            return "pull_request", environ.get("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", "")
        return "pull_request", environ.get("CI_MERGE_REQUEST_DIFF_BASE_SHA", "")
    if source == "schedule":
        return "schedule", ""
    if environ.get("CI_COMMIT_TAG"):
        return "tag", ""
    branch = environ.get("CI_COMMIT_BRANCH", "")
    if source == "push" and branch and branch == environ.get("CI_DEFAULT_BRANCH"):
        return "push_default", ""
    return source or "other", ""


def child(plan: Plan, environ: Mapping[str, str], dotenv: str) -> str:
    """The child pipeline's YAML: the gpu jobs the plan kept, or one job saying why none runs.

    dotenv: the plan's dotenv report, whose MLCI_* values the gpu jobs run with (a child gets
    no variable of its parent's jobs).
    """
    reason = plan.selection or _why_none(plan)
    if plan.gpu_jobs:
        in_image = plan.gpu_jobs[0].in_image
        jobs = {f"{JOB}: [image]" if in_image else JOB: _gpu_job(plan, environ, dotenv)}
        head = f"# The gpu jobs of this pipeline, written by mlci-plan. {reason}".rstrip()
    else:
        jobs = {f"{JOB}: none": _note_job(reason or "gpu: no gpu job in this pipeline", environ)}
        head = "# No gpu job runs in this pipeline, as mlci-plan decided."
    # JSON is YAML (and needs no YAML library): every value quoted, nothing read as a tag.
    return head + "\n" + json.dumps(jobs, indent=2) + "\n"


def _why_none(plan: Plan) -> str:
    if "gpu" in plan.choice.left_out:
        return f"gpu: left out, {plan.choice.left_out['gpu']}"
    return ""


def _gpu_job(plan: Plan, environ: Mapping[str, str], dotenv: str) -> dict[str, Any]:
    settings = plan.settings
    folder = settings.working_directory  # joined as the templates join it: `./mlci-reports/`
    variables = dict(line.split("=", 1) for line in dotenv.splitlines() if "=" in line)
    for name in _FROM_TEMPLATE:
        if environ.get(name):
            variables[name] = environ[name]
    index = environ.get("MLCI_TORCH_INDEX", "")
    if index and redact(index) != index:
        raise ConfigError(
            "torch-index: carries credentials, which mlci-gpu's child pipeline would show in"
            " its configuration: give them as CI/CD variables instead (UV_INDEX_<NAME>_USERNAME"
            " and _PASSWORD, masked), which child pipelines get too"
        )
    if index:
        variables["MLCI_TORCH_INDEX"] = index
    # Literal values: GitLab expands `$` in a job's variables, `$$` is one `$`.
    variables = {name: value.replace("$", "$$") for name, value in variables.items()}
    minutes = TIMEOUT_MINUTES["gpu"]
    variables |= {
        "UV_CACHE_DIR": "$CI_PROJECT_DIR/.cache/uv",
        "UV_LINK_MODE": "copy",
        "RUNNER_SCRIPT_TIMEOUT": f"{minutes - REPORT_MINUTES}m",
    }
    builds = [job.torch_backend for job in plan.gpu_jobs]
    # One job per CUDA build (`mlci-gpu: [cu130]`); image mode's one uses the image's torch.
    # unit-select's values are the unit jobs' only.
    for name in ("MLCI_GPU_BACKENDS", "MLCI_UNIT_TESTS", "MLCI_UNIT_MAP_SUFFIX"):
        variables.pop(name, None)
    reports = f"{folder}/{REPORTS}"
    job: dict[str, Any] = {
        "stage": "test",
        "tags": list(settings.gpu_runner),
        "timeout": f"{minutes}m",
        "retry": RETRY,
        "interruptible": _interruptible(environ),
        "variables": variables,
        "cache": _caches(plan, folder),
        "before_script": INSTALL,
        "script": ['nox -f "$MLCI_WORKING_DIRECTORY/noxfile.py" -s gpu'],
        "artifacts": {
            "when": "always",
            "expire_in": "2 weeks",
            "paths": [f"{reports}/"],
            "reports": {"junit": f"{reports}/*/junit.xml"},
        },
    }
    if settings.gpu_container:
        job = {"image": settings.gpu_container, **job}
    if builds != ["image"]:
        job["parallel"] = {"matrix": [{"MLCI_GPU_BACKENDS": builds}]}
    return job


def _caches(plan: Plan, folder: str) -> list[dict[str, Any]]:
    """uv's cache, as every mlci job keeps it; the test map gpu-select decides from, which the
    gpu jobs record; what the tests download (downloads-key)."""
    protection = "protected-$CI_COMMIT_REF_PROTECTED"
    caches: list[dict[str, Any]] = [
        {
            "key": {
                "files": [f"{folder}/pyproject.toml", f"{folder}/uv.lock"],
                "prefix": f"mlci-uv-$CI_JOB_NAME_SLUG-{protection}",
            },
            "paths": [".cache/uv"],
        }
    ]
    job = plan.gpu_jobs[0]
    if job.test_map:
        caches.append(
            {
                # = mlci.yml's entry mlci-plan restores; push only, as mlci-unit's.
                "key": f"{test_map_key('')}gpu-{protection}-$CI_COMMIT_REF_SLUG",
                "paths": [job.test_map],
                "policy": "push",
                "when": "always",
            }
        )
    if job.downloads:
        caches.append(
            {
                "key": f"mlci-downloads-$CI_JOB_NAME_SLUG-{protection}-$CI_COMMIT_REF_SLUG",
                "fallback_keys": [
                    "mlci-downloads-$CI_JOB_NAME_SLUG-protected-true-$CI_DEFAULT_BRANCH_SLUG"
                ],
                "paths": [job.downloads],
                "when": "on_success",
            }
        )
    return caches


def _note_job(reason: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """A job that only says why no gpu job runs (a child pipeline must have a job). It runs
    where mlci-plan ran: the runner's tags, and its image when it had one, so it never waits
    for a GPU runner, nor for a runner that a project with only tagged runners lacks."""
    job: dict[str, Any] = {
        "stage": "test",
        "timeout": f"{NOTE_MINUTES}m",
        "retry": RETRY,
        "interruptible": _interruptible(environ),
        "variables": {"MLCI_REASON": reason.replace("$", "$$")},
    }
    if environ.get("CI_JOB_IMAGE"):
        job["image"] = environ["CI_JOB_IMAGE"]
    tags = _runner_tags(environ.get("CI_RUNNER_TAGS", ""))
    if tags:
        job["tags"] = tags
    job["script"] = ['echo "mlci: $MLCI_REASON"']
    return job


def _interruptible(environ: Mapping[str, str]) -> bool:
    """As mlci.yml's rules: a newer pipeline never cancels the default branch's or a tag's."""
    default = environ.get("CI_COMMIT_BRANCH", "") == environ.get("CI_DEFAULT_BRANCH", "-")
    return not (environ.get("CI_COMMIT_TAG") or default)


def _runner_tags(text: str) -> list[str]:
    """CI_RUNNER_TAGS: a JSON array (GitLab Runner 14.10+), a comma-separated list before."""
    text = text.strip()
    if not text:
        return []
    try:
        found = json.loads(text)
    except ValueError:
        found = text.split(",")
    if not isinstance(found, list):
        return []
    return [str(tag).strip() for tag in found if str(tag).strip()]
