"""GitLab: the event gpu-select reads from GitLab's variables, and the child pipeline of the gpu
jobs that mlci-plan writes (the template side is in tests/test_gitlab_files.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci.ci import gitlab_pipeline, plan_output
from mlci.ci.planner import Plan
from mlci.errors import ConfigError
from tests.ci.test_planner import plan_for

MR = {"CI_PIPELINE_SOURCE": "merge_request_event"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        # A detached merge request pipeline runs the source branch: the change is measured from
        # the merge base. A merged-results one runs the merge: from the target branch's head.
        ({**MR, "CI_MERGE_REQUEST_DIFF_BASE_SHA": "base1"}, ("pull_request", "base1")),
        (
            {
                **MR,
                "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
                "CI_MERGE_REQUEST_DIFF_BASE_SHA": "b",
            },
            ("pull_request", "b"),
        ),
        (
            {
                **MR,
                "CI_MERGE_REQUEST_EVENT_TYPE": "merged_result",
                "CI_MERGE_REQUEST_DIFF_BASE_SHA": "merge-base",
                "CI_MERGE_REQUEST_TARGET_BRANCH_SHA": "target-head",
            },
            ("pull_request", "target-head"),
        ),
        ({**MR, "CI_MERGE_REQUEST_EVENT_TYPE": "merge_train"}, ("merge_train", "")),
        ({"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main"}, ("schedule", "")),
        ({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.0"}, ("tag", "")),
        (
            {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"},
            ("push_default", ""),
        ),
        (
            {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "wip", "CI_DEFAULT_BRANCH": "main"},
            ("push", ""),
        ),
        ({"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "wip"}, ("web", "")),
        ({}, ("other", "")),
    ],
)
def test_the_event_comes_from_gitlabs_predefined_variables(
    environ: dict[str, str], expected: tuple[str, str]
) -> None:
    assert gitlab_pipeline.event(environ) == expected


def child(plan: Plan, environ: dict[str, str] | None = None) -> dict[str, Any]:
    text = gitlab_pipeline.child(plan, environ or {}, plan_output.gitlab(plan))
    assert text.startswith("# ")  # one comment line, then the jobs
    found: dict[str, Any] = yaml.safe_load(text)
    return found


def test_one_job_per_cuda_build_on_the_gpu_runner_with_the_plans_values(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, gpu_runner='["self-hosted", "gpu"]', gpu_backends="cu126,cu130")
    environ = {"MLCI_REPOSITORY": "https://gitlab.example/ml/mlci.git", "MLCI_VERSION": "v1.2.3"}
    [(name, job)] = child(plan, environ).items()
    assert name == "mlci-gpu"
    assert job["tags"] == ["self-hosted", "gpu"]
    assert job["parallel"] == {"matrix": [{"MLCI_GPU_BACKENDS": ["cu126", "cu130"]}]}
    assert job["script"] == ['nox -f "$MLCI_WORKING_DIRECTORY/noxfile.py" -s gpu']
    variables = job["variables"]
    assert "MLCI_GPU_BACKENDS" not in variables  # the matrix gives each job its own
    # unit-select's choice is the unit jobs' own, never the gpu jobs'.
    dotenv_with_unit = (
        plan_output.gitlab(plan) + "MLCI_UNIT_TESTS=none\nMLCI_UNIT_MAP_SUFFIX=-part\n"
    )
    gpu_only = yaml.safe_load(gitlab_pipeline.child(plan, environ, dotenv_with_unit))
    assert not {"MLCI_UNIT_TESTS", "MLCI_UNIT_MAP_SUFFIX"} & set(gpu_only["mlci-gpu"]["variables"])
    # The plan's resolved values (a child pipeline gets no variable of its parent's jobs),
    # and where mlci is installed from.
    dotenv = dict(line.split("=", 1) for line in plan_output.gitlab(plan).splitlines())
    for key, value in dotenv.items():
        if key != "MLCI_GPU_BACKENDS":
            assert variables[key] == value, key
    assert variables["MLCI_REPOSITORY"] == "https://gitlab.example/ml/mlci.git"
    assert variables["MLCI_VERSION"] == "v1.2.3"
    # A pull request's pipeline may be cancelled by a newer one; the default branch's is not.
    assert job["interruptible"] is True
    main = {"CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    assert child(plan, main)["mlci-gpu"]["interruptible"] is False


def test_values_stay_literal(tmp_path: Path) -> None:
    """GitLab expands `$` in a job's variables: a value is written with `$$`."""
    plan = plan_for(tmp_path, gpu_runner="gpu")
    job = child(plan, {"MLCI_VERSION": "v1$HOME"})["mlci-gpu"]
    assert job["variables"]["MLCI_VERSION"] == "v1$$HOME"
    assert job["variables"]["UV_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/uv"  # the GPU runner's


def test_image_mode_is_one_job_with_the_images_torch(tmp_path: Path) -> None:
    plan = plan_for(
        tmp_path, gpu_runner="gpu", gpu_torch="image", gpu_container="nvcr.io/nvidia/pytorch:25.01"
    )
    [(name, job)] = child(plan).items()
    assert name == "mlci-gpu: [image]"
    assert job["image"] == "nvcr.io/nvidia/pytorch:25.01"
    assert "parallel" not in job and "MLCI_GPU_BACKENDS" not in job["variables"]


def test_a_torch_index_with_credentials_never_reaches_the_child(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, gpu_runner="gpu")
    with pytest.raises(ConfigError) as err:
        child(plan, {"MLCI_TORCH_INDEX": "https://user:s3cret@mirror.example/simple"})
    assert "UV_INDEX_" in str(err.value) and "s3cret" not in str(err.value)
    plain = child(plan, {"MLCI_TORCH_INDEX": "https://mirror.example/simple"})
    assert plain["mlci-gpu"]["variables"]["MLCI_TORCH_INDEX"] == "https://mirror.example/simple"


def test_with_no_gpu_job_one_job_says_why_where_the_plan_ran(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, gpu_runner="gpu")
    reason = "gpu: skipped, no gpu test reaches the 1 file changed; last full run abc1234"
    skipped = dataclasses.replace(plan, gpu_jobs=(), selection=reason)
    environ = {"CI_RUNNER_TAGS": '["linux", "docker"]', "CI_JOB_IMAGE": "python:3.12"}
    text = gitlab_pipeline.child(skipped, environ, plan_output.gitlab(skipped))
    [(name, job)] = yaml.safe_load(text).items()
    assert name == "mlci-gpu: none"
    # Never on the GPU runner: on mlci-plan's own runner tags and image.
    assert job["tags"] == ["linux", "docker"] and job["image"] == "python:3.12"
    assert job["variables"]["MLCI_REASON"] == reason
    assert job["script"] == ['echo "mlci: $MLCI_REASON"']
    assert job["timeout"] == "10m" and job["retry"]["max"] == 2  # like every mlci job
    # Older runners give a comma-separated list; an untagged runner none (an untagged job).
    older = gitlab_pipeline.child(skipped, {"CI_RUNNER_TAGS": "linux, docker"}, "")
    assert yaml.safe_load(older)["mlci-gpu: none"]["tags"] == ["linux", "docker"]
    untagged = yaml.safe_load(gitlab_pipeline.child(skipped, {}, ""))["mlci-gpu: none"]
    assert "tags" not in untagged and "image" not in untagged
    dollar = dataclasses.replace(skipped, selection="gpu: skipped, $HOME.py changed")
    note = yaml.safe_load(gitlab_pipeline.child(dollar, {}, ""))["mlci-gpu: none"]
    assert note["variables"]["MLCI_REASON"] == "gpu: skipped, $$HOME.py changed"


def test_the_gpu_jobs_keep_the_test_map_gpu_select_reads(tmp_path: Path) -> None:
    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    off = child(plan_for(tmp_path / "off", gpu_runner="gpu"))["mlci-gpu"]
    assert [cache["paths"] for cache in off["cache"]] == [[".cache/uv"]]
    on = child(plan_for(tmp_path / "on", gpu_runner="gpu", gpu_select="all"))["mlci-gpu"]
    _uv, kept = on["cache"]
    assert kept["paths"] == [".mlci-test-maps/gpu.json"]  # test_map.carried, from the root
    assert kept["policy"] == "push" and kept["when"] == "always"
    assert "$CI_COMMIT_REF_PROTECTED" in kept["key"]


def test_the_plan_command_writes_the_child_with_a_gpu_runner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlci.cli import main
    from tests.ci.test_planner import full_project

    full_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("MLCI_GPU_RUNNER", "MLCI_EVENT", "MLCI_DIFF_BASE", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    out.mkdir()
    args = ["plan", "--format", "gitlab", "--output", str(out / "plan.env")]
    assert main([*args, "--gitlab-child", str(out / "child.yml")]) == 0
    assert not (out / "child.yml").exists()  # no mlci-gpu.yml, no child
    monkeypatch.setenv("MLCI_GPU_RUNNER", "gpu-box")
    assert main([*args, "--gitlab-child", str(out / "child.yml")]) == 0
    assert yaml.safe_load((out / "child.yml").read_text())["mlci-gpu"]["tags"] == ["gpu-box"]
