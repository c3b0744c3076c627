"""The GitLab templates: schema-valid, inputs in sync with mlci, sessions in parity with GitHub."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci._version import __version__
from mlci.ci import plan_output
from mlci.compat import load as load_compat
from mlci.config.option_table import OPTIONS, SESSION_NAMES
from tests import gitlab_semantics as gl

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "ci-templates" / "gitlab"
MAIN = TEMPLATES / "mlci.yml"
GPU = TEMPLATES / "mlci-gpu.yml"
MR = TEMPLATES / "merge-request-pipelines.yml"
# GitLab-only inputs, and the CI option GitLab takes another way (tags on the hidden job).
GITLAB_ONLY = {"image", "gpu-image", "stage", "mlci-repository", "mlci-version"}
# GitLab: runner tags on the hidden job, gpu-image, one include per project (no call-id).
NOT_AN_INPUT_ON_GITLAB = {"runner", "gpu-container", "gpu-runner-ephemeral", "call-id"}


def documents(path: Path) -> list[dict[str, Any]]:
    return gl.documents(path)


def spec_inputs(path: Path) -> dict[str, Any]:
    inputs: dict[str, Any] = documents(path)[0]["spec"]["inputs"]
    return inputs


def schema_check(tmp_path: Path, *configs: dict[str, Any]) -> None:
    checker = shutil.which("check-jsonschema")
    assert checker
    files = []
    for i, config in enumerate(configs):
        file = tmp_path / f"config-{i}.json"
        file.write_text(json.dumps(config))
        files.append(str(file))
    done = subprocess.run(
        [checker, "--builtin-schema", "vendor.gitlab-ci", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [MAIN, GPU, MR], ids=lambda p: p.name)
def test_each_spec_header_is_schema_valid(path: Path, tmp_path: Path) -> None:
    docs = documents(path)
    schema_check(tmp_path, docs[0])


def test_the_expanded_pipeline_is_schema_valid(tmp_path: Path) -> None:
    """The body as GitLab sees it: inputs interpolated, `!reference` and `extends` resolved."""
    schema_check(tmp_path, expanded(gpu=True, merge_requests=True))


def expanded(*, gpu: bool = False, merge_requests: bool = False, **inputs: Any) -> dict[str, Any]:
    bodies = [gl.include(MAIN, inputs)]
    if gpu:
        bodies.append(gl.include(GPU, {"gpu-runner": ["gpu"]}))
    if merge_requests:
        bodies.append(gl.include(MR))
    return gl.configuration(*bodies)


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
            value = variables[option.env_var]
            # Array inputs with a space first (GitLab keeps a lone array block an array).
            assert value.strip() == f"$[[ inputs.{option.name} ]]", option.name


def test_every_variable_is_text_as_gitlab_requires() -> None:
    """GitLab refuses a variable whose value is an array ("variable definition must be either a
    string or a hash"); an array input that is a variable's whole value stays an array."""
    config = expanded(gpu=True, merge_requests=True, **{"python-versions": ["3.11", "3.12"]})
    for name, job in gl.jobs(config).items():
        for key, value in (job.get("variables") or {}).items():
            assert isinstance(value, str | int | float), f"{name}: {key} = {value!r}"
    plan = config["mlci-plan"]["variables"]
    assert plan["MLCI_PYTHON_VERSIONS"] == ' ["3.11", "3.12"]'  # read by mlci as a JSON list


def test_defaults_follow_mlci() -> None:
    """The template's own release installs itself; its default CUDA build is PyPI's."""
    assert spec_inputs(MAIN)["mlci-version"]["default"] == f"v{__version__}"
    assert spec_inputs(GPU)["gpu-backends"]["default"] == [load_compat().newest.pypi_cuda]


def test_session_parity_between_registry_gitlab_and_github(tmp_path: Path) -> None:
    """The sessions nox gets, the GitLab jobs and the GitHub plan legs are one set."""
    from mlci.session.registry import REGISTRY

    both = {**documents(MAIN)[1], **documents(GPU)[1]}
    jobs = {name for name in both if not name.startswith(".")}
    # unit's second job: its shards (unit-shards > 1), each running `nox -s unit`.
    assert jobs == {"mlci-plan", "mlci-unit-shard"} | {f"mlci-{s.name}" for s in REGISTRY}
    # The gpu jobs are a child pipeline's, which mlci-plan writes (gitlab_pipeline.py).
    both["mlci-gpu"] = child_job()
    for session in REGISTRY:
        job = both[f"mlci-{session.name}"]
        script = job["script"]
        assert any(
            f"-s {session.name}" in line or f'-s "{session.name}-' in line for line in script
        )
    assert both["mlci-unit-shard"]["script"][-1].endswith("-s unit")

    from mlci.ci.planner import make_plan
    from mlci.config.settings import resolve
    from tests.ci.test_planner import full_project

    settings = resolve(full_project(tmp_path), {"gpu-runner": "gpu"}, environ={})
    plan = make_plan(settings)
    legs = {job.session.split("-")[0] for job in (*plan.jobs, *plan.gpu_jobs)}
    assert legs == set(SESSION_NAMES)


def child_pipeline(folder: Path, environ: dict[str, str] | None = None, **flags: str) -> Any:
    """The child pipeline mlci-plan writes for a project with every session and a GPU runner."""
    from mlci.ci import gitlab_pipeline
    from tests.ci.test_planner import plan_for

    plan = plan_for(folder, gpu_runner="gpu-box", **flags)
    return yaml.safe_load(gitlab_pipeline.child(plan, environ or {}, plan_output.gitlab(plan)))


def child_job() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        job: dict[str, Any] = child_pipeline(Path(folder))["mlci-gpu"]
        return job


def test_job_time_limits_are_the_planners() -> None:
    """GitLab cannot read the plan's per-leg limits, so its YAML repeats them; kept equal here."""
    from mlci.ci.planner import REPORT_MINUTES, TIMEOUT_MINUTES

    cpu, gpu = documents(MAIN)[1][".mlci-job"], child_job()
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
        for name, job in {**documents(path)[1], "child": child_job()}.items():
            if isinstance(job, dict) and "timeout" in job:
                minutes = int(job["timeout"].removesuffix("m"))
                script = job.get("variables", {}).get("RUNNER_SCRIPT_TIMEOUT")
                assert script == f"{minutes - REPORT_MINUTES}m", name


def test_jobs_are_hardened() -> None:
    base = documents(MAIN)[1][".mlci-job"]
    assert base["timeout"]  # interruptible: set by the rules (test above)
    assert "script_failure" not in base["retry"]["when"]  # tests are never retried
    assert "stuck_or_timeout_failure" not in base["retry"]["when"]  # nor hangs
    assert base["artifacts"]["when"] == "always"
    for name, job in {**documents(MAIN)[1], **documents(GPU)[1]}.items():
        if name.startswith("mlci-"):
            assert job.get("needs") is not None, f"{name}: no needs (the pipeline is a DAG)"
            for line in job.get("script", ()):
                assert "$[[" not in line, f"{name}: inputs reach scripts through variables only"


# --- which jobs are in which pipeline ----------------------------------------------------------
# gitlab-ci-local applies neither `workflow: rules` nor the default `only: [branches, tags]` of a
# job without rules: tests/gitlab_semantics.py evaluates both from GitLab's documentation.

CONFIGS: dict[str, dict[str, Any]] = {
    "mlci.yml": {},
    "mlci.yml + merge-request-pipelines.yml": {"merge_requests": True},
    "mlci.yml + mlci-gpu.yml": {"gpu": True},
    "all three": {"gpu": True, "merge_requests": True},
    "sessions [unit] + gpu": {"gpu": True, "sessions": ["unit"]},
    "unit-shards 3 + merge requests": {"merge_requests": True, "unit-shards": 3},
}


@pytest.mark.parametrize("pipeline", gl.PIPELINES, ids=lambda p: p.name)
@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_every_job_a_pipeline_holds_has_the_jobs_it_needs(
    config_name: str, pipeline: gl.Pipeline
) -> None:
    """GitLab refuses a pipeline where a job needs one that is absent: mlci-plan had no rules,
    so it was left out of merge request pipelines that every session job joined."""
    config = expanded(**CONFIGS[config_name])
    if gl.pipeline_created(config, pipeline):
        assert gl.missing_needs(config, pipeline) == []


def present_jobs(config: dict[str, Any], pipeline: gl.Pipeline) -> set[str]:
    return {
        name
        for name, job in gl.jobs(config).items()
        if gl.job_presence(config, job, pipeline).present
    }


ALL_JOBS = {"mlci-plan"} | {f"mlci-{name}" for name in SESSION_NAMES}


@pytest.mark.parametrize("pipeline", gl.PIPELINES, ids=lambda p: p.name)
def test_with_merge_request_pipelines_each_pipeline_runs_everything_once(
    pipeline: gl.Pipeline,
) -> None:
    config = expanded(gpu=True, merge_requests=True)
    created = gl.pipeline_created(config, pipeline)
    # One pipeline per push: the merge request's, or the branch's when there is none.
    assert created is (pipeline.name != "push to a branch with an open merge request")
    if created:
        assert present_jobs(config, pipeline) == ALL_JOBS


@pytest.mark.parametrize("pipeline", gl.PIPELINES, ids=lambda p: p.name)
def test_without_it_mlci_is_where_a_job_without_rules_would_be(pipeline: gl.Pipeline) -> None:
    """No merge request pipeline is created on mlci's account (it would duplicate the branch
    pipeline): the jobs are in branch and tag pipelines, as GitLab's default puts a job."""
    config = expanded(gpu=True)
    assert gl.pipeline_created(config, pipeline)
    expected = ALL_JOBS if pipeline.ref_is_branch_or_tag else set()
    assert present_jobs(config, pipeline) == expected


@pytest.mark.parametrize("count", [1, 3])
def test_sharded_unit_has_its_shard_and_combine_jobs_instead(count: int) -> None:
    inputs: dict[str, Any] = {"unit-shards": count}
    config = expanded(**inputs)
    present = present_jobs(config, gl.PIPELINES[0])
    sharded = {"mlci-unit-shard", "mlci-coverage"}
    if count == 1:
        assert "mlci-unit" in present and not sharded & present
    else:
        assert "mlci-unit" not in present and sharded <= present
        assert config["mlci-unit-shard"]["parallel"] == 3
        assert (
            config["mlci-unit-shard"]["variables"]["MLCI_SHARD"] == "$CI_NODE_INDEX/$CI_NODE_TOTAL"
        )


def test_the_carried_durations_are_where_mlci_keeps_them() -> None:
    from mlci.session.shards import DURATIONS

    wd = "$[[ inputs.working-directory ]]"
    jobs = documents(MAIN)[1]
    restored, _unit_map, _gpu_map = jobs["mlci-plan"]["cache"]
    _, saved = jobs["mlci-coverage"]["cache"]
    for cache, policy in ((restored, "pull"), (saved, "push")):
        assert cache["paths"] == [f"{wd}/{DURATIONS}"] and cache["policy"] == policy
    # The plan restores them once and hands the same file to every shard, as its artifact.
    assert jobs["mlci-plan"]["artifacts"]["paths"][0] == f"{wd}/{DURATIONS}"
    shard_caches = jobs["mlci-unit-shard"]["cache"]
    assert not [cache for cache in shard_caches if DURATIONS in str(cache["paths"])]
    assert "mlci-plan" in jobs["mlci-unit-shard"]["needs"]


def test_a_session_left_out_of_sessions_has_no_job() -> None:
    config = expanded(gpu=True, sessions=["unit"])
    pipeline = gl.PIPELINES[0]
    assert present_jobs(config, pipeline) == {"mlci-plan", "mlci-unit"}


@pytest.mark.parametrize("pipeline", gl.PIPELINES, ids=lambda p: p.name)
def test_a_newer_pipeline_never_cancels_the_default_branch_or_a_tag(
    pipeline: gl.Pipeline,
) -> None:
    config = expanded(gpu=True, merge_requests=True)
    protected = (
        pipeline.variables.get("CI_COMMIT_TAG")
        or pipeline.variables.get("CI_COMMIT_BRANCH") == gl.DEFAULT_BRANCH
    )
    for name, job in gl.jobs(config).items():
        presence = gl.job_presence(config, job, pipeline)
        if presence.present:
            assert presence.interruptible is not protected, name


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ('$A == "x"', {"A": "x"}, True),
        ('$A == "x"', {}, False),
        ('$A != "true"', {}, True),
        ("$A", {"A": ""}, False),
        ("$A == $B", {"A": "main", "B": "main"}, True),
        ("$A == $B", {"B": "main"}, False),
        ("$A =~ /[a-z]/ && $A !~ /(^|[^a-z])lint([^a-z]|$)/", {"A": '["unit"]'}, True),
        ("$A =~ /[a-z]/ && $A !~ /(^|[^a-z])lint([^a-z]|$)/", {"A": '["lint"]'}, False),
        ("$A =~ /[a-z]/ && $A !~ /(^|[^a-z])lint([^a-z]|$)/", {"A": "[]"}, False),
        ("$A || $B && $C", {"A": "1"}, True),  # && binds tighter than ||
        ("($A || $B) && $C", {"A": "1"}, False),
    ],
)
def test_the_rules_evaluator_follows_gitlabs_expression_syntax(
    expression: str, variables: dict[str, str], expected: bool
) -> None:
    assert gl.evaluate(expression, variables) is expected


@pytest.mark.parametrize("pipeline", gl.PIPELINES, ids=lambda p: p.name)
def test_with_the_workflow_no_default_branch_or_tag_pipeline_is_auto_cancelled(
    pipeline: gl.Pipeline,
) -> None:
    """Job-level `interruptible: false` is not enough: under GitLab's default auto-cancel mode
    (`conservative`) a pipeline whose jobs have not started yet is cancelled anyway."""
    config = expanded(merge_requests=True)
    if not gl.pipeline_created(config, pipeline):
        return
    protected = (
        pipeline.variables.get("CI_COMMIT_TAG")
        or pipeline.variables.get("CI_COMMIT_BRANCH") == gl.DEFAULT_BRANCH
    )
    assert gl.auto_cancel(config, pipeline) == ("none" if protected else "interruptible")


def test_the_evaluator_catches_the_shipped_merge_request_defect() -> None:
    """The check above, on the template as it shipped (mlci-plan without rules)."""
    config = expanded(merge_requests=True)
    config["mlci-plan"] = {k: v for k, v in config["mlci-plan"].items() if k != "rules"}
    merge_request = next(p for p in gl.PIPELINES if p.name == "merge request")
    assert gl.missing_needs(config, merge_request)[0].startswith(
        "'mlci-integ' job needs 'mlci-plan' job, but 'mlci-plan' does not exist"
    )


def test_caches_of_protected_refs_are_their_own() -> None:
    base = documents(MAIN)[1][".mlci-job"]
    assert "$CI_COMMIT_REF_PROTECTED" in base["cache"]["key"]["prefix"]


def test_unit_jobs_keep_testmons_data_where_mlci_says_it_is() -> None:
    """mlci.ci.planner.testmon_data names the file on GitHub (matrix `carry`); GitLab's cache
    paths are static, so the template repeats it and this test keeps the two equal."""
    from mlci.ci.planner import testmon_data
    from mlci.config.settings import resolve

    unit = documents(MAIN)[1]["mlci-unit"]
    uv, testmon, _downloads, _test_map = unit["cache"]
    assert uv == documents(MAIN)[1][".mlci-job"]["cache"]  # the shared uv cache, unchanged
    wd = "$[[ inputs.working-directory ]]"
    settings = resolve(ROOT, {"working-directory": "x"}, environ={}, require_pyproject=False)
    from mlci.session.flaky import HISTORY

    assert testmon["paths"] == [testmon_data(settings).replace("x", wd, 1), f"{wd}/{HISTORY}"]
    assert testmon["when"] == "always"
    assert "$CI_JOB_NAME_SLUG" in testmon["key"]  # one record per Python (matrix leg)


def test_jobs_that_run_project_code_keep_its_downloads_where_mlci_puts_them() -> None:
    """downloads.FOLDER on GitHub comes in the matrix (`downloads`); GitLab's cache paths are
    static, so the template repeats it and this test keeps the two equal."""
    from mlci.session.downloads import FOLDER

    jobs = documents(MAIN)[1]
    wd = "$[[ inputs.working-directory ]]"
    for name in ("mlci-unit", "mlci-unit-shard", "mlci-integ", "mlci-nbmake"):
        uv, *others = jobs[name]["cache"]
        assert uv == jobs[".mlci-job"]["cache"], name  # the shared uv cache, unchanged
        [kept] = [cache for cache in others if FOLDER in str(cache["paths"])]
        assert kept["paths"] == [f"{wd}/{FOLDER}"] and kept["when"] == "on_success", name
        assert "$CI_JOB_NAME_SLUG" in kept["key"] and kept["fallback_keys"], name
    assert "cache" not in jobs["mlci-lint"] and "cache" not in jobs["mlci-mypy"]


def test_report_folders_are_the_planners() -> None:
    """GitLab's artifact paths are static: they repeat mlci's reports folder, kept equal here."""
    from mlci.project.files import REPORTS

    wd = "$[[ inputs.working-directory ]]"
    base = documents(MAIN)[1][".mlci-job"]["artifacts"]
    assert base["paths"] == [f"{wd}/{REPORTS}/"]
    assert base["reports"]["junit"] == f"{wd}/{REPORTS}/*/junit.xml"
    unit = documents(MAIN)[1]["mlci-unit"]["artifacts"]["reports"]
    assert unit["coverage_report"]["path"] == f"{wd}/{REPORTS}/unit-*/coverage.xml"


def test_caches_follow_what_the_environments_are_built_from() -> None:
    key = documents(MAIN)[1][".mlci-job"]["cache"]["key"]
    wd = "$[[ inputs.working-directory ]]"
    assert key["files"] == [f"{wd}/pyproject.toml", f"{wd}/uv.lock"]


# --- the CI/CD Catalog components (templates/): generated from the include templates -------------


def test_the_components_are_the_include_templates() -> None:
    """One source of truth: templates/ is generated from ci-templates/gitlab/."""
    from tests import components

    for name in components.NAMES:
        path = ROOT / "templates" / f"{name}.yml"
        assert path.read_text() == components.render(name), (
            f"{path.name} drifted: run `python -m tests.components`"
        )


def test_a_component_pipeline_has_the_same_jobs_as_the_include(tmp_path: Path) -> None:
    components = ROOT / "templates"
    config = gl.configuration(
        gl.include(components / "mlci.yml"),
        gl.include(components / "mlci-gpu.yml", {"gpu-runner": ["gpu"]}),
        gl.include(components / "merge-request-pipelines.yml"),
    )
    included = expanded(gpu=True, merge_requests=True)
    assert set(gl.jobs(config)) == set(gl.jobs(included))
    schema_check(tmp_path, config)
    # The mlci a component installs is the component's own commit, not an input's release.
    assert config["mlci-plan"]["variables"]["MLCI_VERSION"] == "$[[ component.sha ]]"
    assert "mlci-version" not in gl.documents(components / "mlci.yml")[0]["spec"]["inputs"]
    assert gl.documents(components / "mlci.yml")[0]["spec"]["component"] == ["sha"]
    schema_check(tmp_path, gl.documents(components / "mlci-gpu.yml")[0])


KIT_PIPELINE = ROOT / ".gitlab-ci.yml"


def test_the_kits_own_pipeline_releases_tags_to_the_catalog(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(KIT_PIPELINE.read_text())
    component, local = data["include"]
    assert component["component"] == "$CI_SERVER_FQDN/$CI_PROJECT_PATH/mlci@$CI_COMMIT_SHA"
    assert local == {"local": "templates/merge-request-pipelines.yml"}
    job = data["catalog-release"]
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG" and job["stage"] == "release"
    schema_check(tmp_path, data)


@pytest.mark.parametrize(
    ("tag", "protected", "released"),
    [
        ("v1.2.3", "true", True),
        ("v10.0.12", "true", True),
        ("v1.2.3", "false", False),  # an unprotected tag publishes nothing
        ("v1.2", "true", False),
        ("v1.2.3-rc1", "true", False),
        ("v01.2.3", "true", False),
        ("1.2.3", "true", False),
    ],
)
def test_only_release_tags_make_a_catalog_release(tag: str, protected: str, released: bool) -> None:
    """The same tags as mlci.ci.release.TAG_REF (the GitHub release), no other."""
    import yaml

    from mlci.ci.release import TAG_REF

    [rule] = yaml.safe_load(KIT_PIPELINE.read_text())["catalog-release"]["rules"]
    variables = {"CI_COMMIT_TAG": tag, "CI_COMMIT_REF_PROTECTED": protected}
    assert gl.evaluate(rule["if"], variables) is released
    assert (TAG_REF.fullmatch(f"refs/tags/{tag}") is not None) is (released or protected != "true")


def _durations_path() -> str:
    from mlci.session.shards import DURATIONS

    return f"./{DURATIONS}"


BRANCH = {
    "CI_COMMIT_REF_SLUG": "feature",
    "CI_DEFAULT_BRANCH": "main",
    "CI_DEFAULT_BRANCH_SLUG": "main",
}


def test_a_default_branch_that_needs_a_slug_still_seeds_a_new_branch() -> None:
    """Keys hold the ref's slug (`$CI_COMMIT_REF_SLUG`): the fallback to the default branch
    must name it by its slug too, or a default branch like `Release/2.0` seeds nothing."""
    shards: dict[str, Any] = {"unit-shards": 3}
    config = expanded(**shards)
    runners = gl.Runners({"r1": {"mlci-durations-release-2-0": "the default branch's"}}, False)
    env = {
        "CI_COMMIT_REF_SLUG": "feature",
        "CI_DEFAULT_BRANCH": "Release/2.0",
        "CI_DEFAULT_BRANCH_SLUG": "release-2-0",
        "CI_COMMIT_REF_PROTECTED": "false",
    }
    found = gl.file_at_start(
        config, "mlci-unit-shard", _durations_path(), "r1", runners, env, {"mlci-plan": "r1"}
    )
    assert found == "the default branch's"


def test_every_shard_splits_by_the_file_the_plan_restored_whatever_each_runner_caches() -> None:
    """Three runners with three different caches: the shards still start from one file."""
    shards: dict[str, Any] = {"unit-shards": 3}
    config = expanded(**shards)
    runners = gl.Runners(
        {
            "r1": {"mlci-durations-feature-non_protected": "new"},
            "r2": {"mlci-durations-feature-non_protected": "old"},
            "r3": {},
        }
    )
    env = {**BRANCH, "CI_COMMIT_REF_PROTECTED": "false"}
    seen = {
        gl.file_at_start(
            config, "mlci-unit-shard", _durations_path(), runner, runners, env, {"mlci-plan": "r1"}
        )
        for runner in ("r1", "r2", "r3")
    }
    assert seen == {"new"}

    # The evaluator can fail: a shard that restored its own cache (the old template) splits
    # by whatever its runner holds.
    config["mlci-unit-shard"]["cache"] = [config["mlci-plan"]["cache"][0]]
    config["mlci-plan"]["artifacts"]["paths"] = []
    seen = {
        gl.file_at_start(
            config, "mlci-unit-shard", _durations_path(), runner, runners, env, {"mlci-plan": "r1"}
        )
        for runner in ("r1", "r2", "r3")
    }
    assert seen == {"new", "old", None}


def test_with_separate_protected_caches_a_new_branch_starts_without_the_default_branchs() -> None:
    """The trade-off docs/security.md states: a default branch's entry is `-protected`, which an
    unprotected branch never reads, so its first pipeline splits by count (correct, proven
    complete, less balanced); the branch's own entry serves the next ones."""
    shards: dict[str, Any] = {"unit-shards": 3}
    config = expanded(**shards)
    runners = gl.Runners({"r1": {"mlci-durations-main-protected": "main's"}})
    plan = {"mlci-plan": "r1"}
    path = _durations_path()
    unprotected = {**BRANCH, "CI_COMMIT_REF_PROTECTED": "false"}
    assert (
        gl.file_at_start(config, "mlci-unit-shard", path, "r1", runners, unprotected, plan) is None
    )
    protected = {**BRANCH, "CI_COMMIT_REF_SLUG": "release", "CI_COMMIT_REF_PROTECTED": "true"}
    found = gl.file_at_start(config, "mlci-unit-shard", path, "r1", runners, protected, plan)
    assert found == "main's"  # a protected branch falls back to the default branch's entry
    shared = gl.Runners({"r1": {"mlci-durations-main": "main's"}}, separate_protected=False)
    found = gl.file_at_start(config, "mlci-unit-shard", path, "r1", shared, unprotected, plan)
    assert found == "main's"  # with the setting off, every branch falls back to main's


# --- the gpu jobs: a child pipeline mlci-plan writes ---------------------------------------------


def test_the_gpu_jobs_are_the_child_pipeline_mlci_plan_writes() -> None:
    from mlci.ci import gitlab_pipeline

    config = expanded(gpu=True)
    trigger, plan = config["mlci-gpu"], config["mlci-plan"]
    assert trigger["trigger"]["include"] == [{"artifact": gitlab_pipeline.FILE, "job": "mlci-plan"}]
    assert "mlci-plan" in trigger["needs"]
    assert f"--gitlab-child {gitlab_pipeline.FILE}" in plan["script"][-1]
    assert gitlab_pipeline.FILE in plan["artifacts"]["paths"]
    # The child's jobs carry the plan's values; the trigger's own are for its rules only.
    assert trigger["trigger"]["forward"] == {"yaml_variables": False}
    assert "script" not in trigger and "image" not in trigger  # a trigger job takes no runner


@pytest.mark.parametrize(("child", "pipeline"), [("failed", "failed"), ("success", "success")])
def test_a_failing_gpu_job_fails_the_pipeline_and_the_note_that_none_runs_passes_it(
    child: str, pipeline: str
) -> None:
    trigger = expanded(gpu=True)["mlci-gpu"]
    assert gl.trigger_status(trigger, child) == pipeline
    # The evaluator can fail: without a strategy, a failed child passes its trigger job.
    bare = {**trigger, "trigger": {k: v for k, v in trigger["trigger"].items() if k != "strategy"}}
    assert gl.trigger_status(bare, "failed") == "success"


def test_the_child_job_has_what_every_mlci_job_has() -> None:
    """A child pipeline inherits no job of its parent: gitlab_pipeline.py repeats .mlci-job's
    install, retries, uv cache and reports, kept equal here."""
    base = gl.include(MAIN, {"working-directory": "."})[".mlci-job"]
    job = child_job()
    assert job["before_script"] == base["before_script"]
    assert job["retry"] == base["retry"]
    assert job["cache"][0] == base["cache"]
    assert job["artifacts"] == base["artifacts"]
    for name in ("UV_CACHE_DIR", "UV_LINK_MODE"):
        assert job["variables"][name] == base["variables"][name]


@pytest.mark.parametrize("variant", ["legs", "none"])
def test_the_child_pipeline_is_schema_valid(variant: str, tmp_path: Path) -> None:
    import dataclasses

    from mlci.ci import gitlab_pipeline
    from tests.ci.test_planner import plan_for

    plan = plan_for(tmp_path, gpu_runner="gpu-box", gpu_select="all")
    if variant == "none":
        plan = dataclasses.replace(plan, gpu_jobs=(), selection="gpu: skipped, a reason")
    environ = {"CI_RUNNER_TAGS": '["linux"]', "CI_JOB_IMAGE": "python:3.12"}
    text = gitlab_pipeline.child(plan, environ, plan_output.gitlab(plan))
    schema_check(tmp_path, yaml.safe_load(text))


def test_the_test_maps_are_read_under_the_keys_they_are_kept_under(tmp_path: Path) -> None:
    from mlci.session import test_map

    jobs = gl.include(MAIN, {"working-directory": "."})
    restored = {
        cache["paths"][0]: cache
        for cache in jobs["mlci-plan"]["cache"]
        if test_map.FOLDER in cache["paths"][0]
    }
    unit_kept = jobs["mlci-unit"]["cache"][-1]
    (tmp_path / "p").mkdir()
    gpu_kept = child_pipeline(tmp_path / "p", gpu_select="all")["mlci-gpu"]["cache"][1]
    for kind, kept in (("unit", unit_kept), ("gpu", gpu_kept)):
        path = f"./{test_map.FOLDER}/{kind}.json"
        # A full run's MLCI_UNIT_MAP_SUFFIX is unset: the key the plan restores.
        key = kept["key"].replace("${MLCI_UNIT_MAP_SUFFIX}", "")
        assert restored[path]["key"] == key and restored[path]["policy"] == "pull"
        assert kept["policy"] == "push"  # never restored by a job that records one
        assert kept["paths"][0].removeprefix("./") == path.removeprefix("./")
        # Saved by the ref's own pipelines; a protected ref never reads an unprotected one's.
        assert "protected-$CI_COMMIT_REF_PROTECTED-$CI_COMMIT_REF_SLUG" in kept["key"]


def test_a_gpu_map_kept_on_another_runners_own_cache_is_not_seen_and_everything_runs() -> None:
    """GitLab caches are per runner unless the runners share a distributed cache: a plan on a
    CPU runner finds no map a GPU runner kept on its own disk, and then runs every gpu test."""
    from datetime import datetime, timedelta, timezone

    from mlci.ci import selection

    config = expanded(gpu=True)
    path = "./.mlci-test-maps/gpu.json"
    env = {**BRANCH, "CI_COMMIT_REF_PROTECTED": "false"}
    key = "mlci-test-map-gpu-protected-false-feature-non_protected"
    own = gl.Runners({"gpu-runner": {key: "map"}, "cpu-runner": {}})
    assert gl.file_at_start(config, "mlci-plan", path, "cpu-runner", own, env, {}) is None
    shared = gl.Runners({"cpu-runner": {key: "map"}})  # a distributed cache: one store
    assert gl.file_at_start(config, "mlci-plan", path, "cpu-runner", shared, env, {}) == "map"
    decision = selection.decide(
        changed=["README.md"],
        test_map=None,
        now=datetime.now(timezone.utc),
        max_age=timedelta(days=14),
        event="pull_request",
        always=(),
        selected_tests=frozenset(),
        mode="all",
    )
    assert decision.run and decision.reason == "gpu: all tests, no test map recorded yet"
