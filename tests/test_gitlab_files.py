"""The GitLab templates: schema-valid, inputs in sync with mlci, sessions in parity with GitHub."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci._version import __version__
from mlci.compat import load as load_compat
from mlci.options import OPTIONS, SESSION_NAMES

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "ci-templates" / "gitlab"
MAIN = TEMPLATES / "mlci.yml"
GPU = TEMPLATES / "mlci-gpu.yml"
MR = TEMPLATES / "merge-request-pipelines.yml"
# GitLab-only inputs, and the CI option GitLab takes another way (tags on the hidden job).
GITLAB_ONLY = {"image", "gpu-image", "stage", "mlci-repository", "mlci-version"}
NOT_AN_INPUT_ON_GITLAB = {"runner", "gpu-container"}  # GitLab: gpu-image


def documents(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(path.read_text()))


def spec_inputs(path: Path) -> dict[str, Any]:
    inputs: dict[str, Any] = documents(path)[0]["spec"]["inputs"]
    return inputs


@pytest.mark.parametrize("path", [MAIN, GPU, MR], ids=lambda p: p.name)
def test_each_yaml_document_is_schema_valid(path: Path, tmp_path: Path) -> None:
    checker = shutil.which("check-jsonschema")
    assert checker
    files = []
    for i, document in enumerate(documents(path)):
        file = tmp_path / f"{path.stem}-{i}.json"
        file.write_text(json.dumps(document))
        files.append(str(file))
    done = subprocess.run(
        [checker, "--builtin-schema", "vendor.gitlab-ci", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_inputs_are_the_ci_options_with_the_same_names() -> None:
    inputs = {**spec_inputs(MAIN), **spec_inputs(GPU)}
    ci = {option.name for option in OPTIONS if option.ci} - NOT_AN_INPUT_ON_GITLAB
    assert set(inputs) == ci | GITLAB_ONLY
    for name, spec in inputs.items():
        assert spec.get("description"), name
    assert "default" not in spec_inputs(GPU)["gpu-runner"]  # required: the GPU job needs it


def test_every_ci_option_reaches_the_jobs_as_its_variable() -> None:
    variables = documents(MAIN)[1][".mlci-job"]["variables"]
    variables |= documents(GPU)[1][".mlci-job"]["variables"]
    for option in OPTIONS:
        if option.ci and option.name not in NOT_AN_INPUT_ON_GITLAB:
            assert variables[option.env_var] == f"$[[ inputs.{option.name} ]]", option.name


def test_defaults_follow_mlci() -> None:
    """The template's own release installs itself; its default CUDA build is PyPI's."""
    assert spec_inputs(MAIN)["mlci-version"]["default"] == f"v{__version__}"
    assert spec_inputs(GPU)["gpu-backends"]["default"] == [load_compat().newest.pypi_cuda]


def test_session_parity_between_registry_gitlab_and_github(tmp_path: Path) -> None:
    """The sessions nox gets, the GitLab jobs and the GitHub plan legs are one set."""
    jobs = {
        name
        for doc in (documents(MAIN)[1], documents(GPU)[1])
        for name in doc
        if not name.startswith(".")
    }
    assert jobs == {"mlci-plan"} | {f"mlci-{name}" for name in SESSION_NAMES}
    for name in SESSION_NAMES:
        job = {**documents(MAIN)[1], **documents(GPU)[1]}[f"mlci-{name}"]
        assert any(f"-s {name}" in line or f'-s "{name}-' in line for line in job["script"]), name

    from mlci.planner import make_plan
    from mlci.settings import resolve

    settings = resolve(tmp_path, {"gpu-runner": "gpu"}, environ={}, require_pyproject=False)
    plan = make_plan(settings)
    legs = {job.session.split("-")[0] for job in (*plan.jobs, *plan.gpu_jobs)}
    assert legs == set(SESSION_NAMES)


def test_job_time_limits_are_the_planners() -> None:
    """GitLab cannot read the plan's per-leg limits, so its YAML repeats them; kept equal here."""
    from mlci.planner import REPORT_MINUTES, TIMEOUT_MINUTES

    cpu, gpu = documents(MAIN)[1][".mlci-job"], documents(GPU)[1][".mlci-gpu-runner"]
    assert cpu["timeout"] == f"{TIMEOUT_MINUTES['cpu']}m"
    assert gpu["timeout"] == f"{TIMEOUT_MINUTES['gpu']}m"
    # The script ends first, leaving time to upload the reports of a hung session.
    assert (
        cpu["variables"]["RUNNER_SCRIPT_TIMEOUT"] == f"{TIMEOUT_MINUTES['cpu'] - REPORT_MINUTES}m"
    )
    assert (
        gpu["variables"]["RUNNER_SCRIPT_TIMEOUT"] == f"{TIMEOUT_MINUTES['gpu'] - REPORT_MINUTES}m"
    )
    # Every job with a limit of its own ends its script REPORT_MINUTES before that limit.
    for path in (MAIN, GPU):
        for name, job in documents(path)[1].items():
            if isinstance(job, dict) and "timeout" in job:
                minutes = int(job["timeout"].removesuffix("m"))
                script = job.get("variables", {}).get("RUNNER_SCRIPT_TIMEOUT")
                assert script == f"{minutes - REPORT_MINUTES}m", name


def test_jobs_are_hardened() -> None:
    base = documents(MAIN)[1][".mlci-job"]
    assert base["interruptible"] is True and base["timeout"]
    assert "script_failure" not in base["retry"]["when"]  # tests are never retried
    assert "stuck_or_timeout_failure" not in base["retry"]["when"]  # nor hangs
    assert base["artifacts"]["when"] == "always"
    for name, job in {**documents(MAIN)[1], **documents(GPU)[1]}.items():
        if name.startswith("mlci-"):
            assert job.get("needs") is not None, f"{name}: no needs (the pipeline is a DAG)"
            for line in job["script"]:
                assert "$[[" not in line, f"{name}: inputs reach scripts through variables only"


# --- merge request pipelines: gitlab-ci-local does not apply `workflow:`, so evaluate here ----


def evaluate(expression: str, env: dict[str, str]) -> bool:
    """The subset of GitLab's rules:if the file uses: $VAR, $VAR == "x", &&."""

    def term(text: str) -> bool:
        match = re.fullmatch(r'\$(\w+)\s*==\s*"([^"]*)"', text.strip())
        if match:
            return env.get(match[1], "") == match[2]
        match = re.fullmatch(r"\$(\w+)", text.strip())
        assert match, text
        return bool(env.get(match[1]))

    return all(term(part) for part in expression.split("&&"))


def pipeline_runs(env: dict[str, str]) -> bool:
    for rule in documents(MR)[0]["workflow"]["rules"]:
        if evaluate(rule["if"], env):
            return bool(rule.get("when", "always") != "never")
    return False


@pytest.mark.parametrize(
    ("event", "runs"),
    [
        ({"CI_PIPELINE_SOURCE": "merge_request_event"}, True),
        (
            {
                "CI_PIPELINE_SOURCE": "push",
                "CI_COMMIT_BRANCH": "feature",
                "CI_OPEN_MERGE_REQUESTS": "acme/x!1",
            },
            False,
        ),
        ({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"}, True),
        ({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.0.0"}, True),
    ],
    ids=["merge-request", "branch-with-open-mr", "branch", "tag"],
)
def test_merge_request_pipelines_never_run_twice(event: dict[str, str], runs: bool) -> None:
    assert pipeline_runs(event) is runs


def test_unit_jobs_keep_testmons_data_where_mlci_says_it_is() -> None:
    """mlci.planner.testmon_data names the file on GitHub (matrix `carry`); GitLab's cache
    paths are static, so the template repeats it and this test keeps the two equal."""
    from mlci.planner import testmon_data
    from mlci.settings import resolve

    unit = documents(MAIN)[1]["mlci-unit"]
    uv, testmon = unit["cache"]
    assert uv == documents(MAIN)[1][".mlci-job"]["cache"]  # the shared uv cache, unchanged
    wd = "$[[ inputs.working-directory ]]"
    settings = resolve(ROOT, {"working-directory": "x"}, environ={}, require_pyproject=False)
    assert testmon["paths"] == [testmon_data(settings).replace("x", wd, 1)]
    assert testmon["when"] == "always"
    assert "$CI_JOB_NAME_SLUG" in testmon["key"]  # one record per Python (matrix leg)
