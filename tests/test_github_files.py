"""The GitHub workflow files: independent linters, hardening rules, inputs in sync with mlci."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci.config.option_table import OPTIONS
from tests import github_semantics as gh

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
SAMPLE_CALLER = ROOT / "examples" / "sample-model" / ".github" / "workflows" / "ci.yml"
TEST_YML = ROOT / ".github" / "workflows" / "test.yml"
# The only write access anywhere: the release workflow's publishing and tag-moving jobs.
WRITE_ALLOWED = {
    ("release.yml", "publish"): {"id-token", "attestations"},
    ("release.yml", "major-tag"): {"contents"},
}
PIN = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@(\S+)(?:\s+#\s*(\S+))?\s*$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed (it is in the kit's test dependency group)"
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_actionlint_with_shellcheck_is_clean() -> None:
    tool("shellcheck")  # actionlint runs it on every `run:` script when it is on PATH
    files = [str(p) for p in (*WORKFLOWS, SAMPLE_CALLER)]
    done = run(tool("actionlint"), *files)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona: str) -> None:
    kit = run(
        tool("zizmor"),
        "--offline",
        "--persona",
        persona,
        "--config",
        ".github/zizmor.yml",
        ".github",
    )
    assert kit.returncode == 0 and "No findings to report" in kit.stdout, kit.stdout + kit.stderr
    sample_github = SAMPLE_CALLER.parents[1]
    sample = run(
        tool("zizmor"),
        "--offline",
        "--config",
        str(sample_github / "zizmor.yml"),
        "--persona",
        persona,
        str(sample_github),
    )
    assert sample.returncode == 0 and "No findings to report" in sample.stdout, sample.stdout


@pytest.mark.parametrize(
    ("schema", "paths"),
    [
        ("vendor.github-workflows", [*WORKFLOWS, SAMPLE_CALLER]),
        ("vendor.github-actions", ACTIONS),
        ("vendor.dependabot", [ROOT / ".github" / "dependabot.yml"]),
    ],
)
def test_schemas(schema: str, paths: list[Path]) -> None:
    done = run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths))
    assert done.returncode == 0, done.stdout + done.stderr


def test_remote_actions_are_pinned_to_full_shas_with_the_tag_in_a_comment() -> None:
    pins = []
    for path in (*WORKFLOWS, *ACTIONS):
        for line in path.read_text().splitlines():
            match = PIN.match(line)
            if match and not match[1].startswith("."):
                pins.append((path.name, *match.groups()))
    assert pins
    upstream = json.loads((ROOT / "tests" / "fixtures" / "action-tags.json").read_text())["tags"]
    for name, action, ref, comment in pins:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}: {action}@{ref} is not a commit SHA"
        assert comment and re.fullmatch(r"v\d+(\.\d+)*", comment), (
            f"{name}: {action} lacks a # vX.Y.Z tag comment"
        )
        repo = "/".join(action.split("/")[:2])
        # The SHA is the commit of the named release, per the upstream tags kept as a fixture.
        assert upstream.get(repo, {}).get(comment) == ref, f"{name}: {repo}@{ref} is not {comment}"


def jobs_of(path: Path) -> dict[str, Any]:
    jobs: dict[str, Any] = load(path)["jobs"]
    return jobs


@pytest.mark.parametrize(
    "path", [*WORKFLOWS, SAMPLE_CALLER], ids=lambda p: p.parent.parent.parent.name + "/" + p.name
)
def test_least_privilege_and_timeouts(path: Path) -> None:
    data = load(path)
    assert data["permissions"] == {}, "top-level permissions must be {}"
    for name, job in data["jobs"].items():
        assert "permissions" in job, f"{name}: no job permissions"
        writes = {scope for scope, access in job["permissions"].items() if access != "read"}
        allowed = WRITE_ALLOWED.get((path.name, name), set()) if path != SAMPLE_CALLER else set()
        assert writes <= allowed, f"{name}: more than read access: {sorted(writes - allowed)}"
        if "uses" not in job:  # a called workflow sets its own timeouts
            assert "timeout-minutes" in job, f"{name}: no timeout-minutes"


def all_steps() -> list[tuple[str, dict[str, Any]]]:
    steps = []
    for path in WORKFLOWS:
        for job in jobs_of(path).values():
            steps += [(path.name, step) for step in job.get("steps", [])]
    for path in ACTIONS:
        steps += [(path.name, step) for step in load(path)["runs"]["steps"]]
    return steps


def test_checkouts_keep_no_credentials() -> None:
    checkouts = [
        (f, s) for f, s in all_steps() if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for name, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, (
            f"{name}: {step.get('name')}"
        )


def test_no_expressions_inside_run_scripts() -> None:
    """Inputs and event data reach shell steps through env: only (no template injection)."""
    for name, step in all_steps():
        script = step.get("run", "")
        assert "${{" not in script, f"{name}: `{step.get('name')}` interpolates into run:"


def test_workflow_inputs_are_the_ci_options() -> None:
    """One list of inputs: the mlci options marked as CI inputs, plus the commit fallback."""
    inputs = load(TEST_YML)["on"]["workflow_call"]["inputs"]
    expected = {option.name for option in OPTIONS if option.ci}
    assert set(inputs) == expected | {"mlci-repository", "mlci-ref"}
    for name, spec in inputs.items():
        assert spec["type"] == "string" and spec["default"] == "", name  # '' = not given
        assert spec.get("description"), name
    env = load(TEST_YML)["env"]
    for option in OPTIONS:
        if option.ci:
            assert env[option.env_var] == f"${{{{ inputs.{option.name} }}}}", option.name


def test_sessions_run_only_through_nox_and_mlci() -> None:
    """YAML holds wiring: each run step calls nox or mlci (or is the commit check)."""
    for name, step in all_steps():
        script = step.get("run", "").strip()
        if not script:
            continue
        first = script.split()[0]
        wiring = first in ("nox", "mlci", "uv", "if", "bash") or script.startswith(
            "python3 -m mlci."  # mlci from a checkout, before anything is installed
        )
        moves_the_major_tag = name == "release.yml" and "gh api" in script
        assert wiring or moves_the_major_tag, f"{name}: {script[:60]}"


RELEASE_YML = ROOT / ".github" / "workflows" / "release.yml"


def test_the_release_workflow_runs_on_release_tags_only() -> None:
    release = load(RELEASE_YML)
    # No branches, no pull requests, no manual runs: only a pushed vX.Y.Z tag starts it.
    assert release["on"] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    jobs = release["jobs"]
    guard = "github.ref_type == 'tag' && startsWith(github.ref, 'refs/tags/v')"
    for name in ("publish", "major-tag"):
        assert jobs[name]["if"] == guard, f"{name} must re-check that the ref is a tag"
    # Publishing waits for the checked build and the self-test; the major tag moves last.
    assert set(jobs["publish"]["needs"]) == {"build", "self-test"}
    assert set(jobs["major-tag"]["needs"]) == {"self-test", "publish"}
    assert jobs["self-test"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in load(ROOT / ".github" / "workflows" / "ci.yml")["on"]
    build = [step.get("run", "") for step in jobs["build"]["steps"]]
    assert build.index('python3 -m mlci.ci.release ref "$REF"') < build.index(
        "uv build --out-dir dist"
    )
    assert 'python3 -m mlci.ci.release dist "$REF" dist' in build


def test_the_release_publishes_by_trusted_publishing_with_an_attestation() -> None:
    steps = load(RELEASE_YML)["jobs"]["publish"]["steps"]
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    assert uses == [
        "actions/download-artifact",
        "actions/attest-build-provenance",
        "pypa/gh-action-pypi-publish",
    ]
    publish = steps[-1]
    assert not publish.get("with"), "trusted publishing takes no password or token"
    assert "secrets." not in RELEASE_YML.read_text()


def test_actionlint_refuses_an_unknown_or_missing_typed_input(tmp_path: Path) -> None:
    """GitHub refuses a call with an input the workflow does not declare (act does not check);
    actionlint, a pre-commit hook here, catches it before a push."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(TEST_YML, workflows / "test.yml")
    (workflows / "caller.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  ci:\n    uses: ./.github/workflows/test.yml\n"
        "    permissions:\n      contents: read\n    with:\n      pyhton-versions: '3.11'\n"
        "      testmon: true\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)  # actionlint's project root
    done = subprocess.run(
        [tool("actionlint"), ".github/workflows/caller.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert 'input "pyhton-versions" is not defined' in done.stdout, done.stdout
    assert 'input "testmon" is typed as string' in done.stdout, done.stdout


# --- concurrency: act ignores it, so the groups are computed here --------------------------------
# tests/github_semantics.py renders `${{ }}` as GitHub does; inside a called workflow the github
# context is the caller's (its name, ref and event).

CI_YML = ROOT / ".github" / "workflows" / "ci.yml"


def github_context(
    workflow: str, path: str, ref: str, event: str, pr: int | None = None
) -> dict[str, Any]:
    return {
        "workflow": workflow,
        "workflow_ref": f"acme/repo/{path}@{ref}",
        "ref": ref,
        "event_name": event,
        "run_id": "4242",
        "event": {"pull_request": {"number": pr}} if pr else {},
    }


def group(path: Path, github: dict[str, Any], given: dict[str, str] | None = None) -> str:
    data = load(path)
    declared = (data["on"] or {}).get("workflow_call", {}) if isinstance(data["on"], dict) else {}
    inputs = {
        name: spec.get("default", "") for name, spec in (declared or {}).get("inputs", {}).items()
    }
    inputs.update(given or {})
    if "concurrency" not in data:
        return ""  # none of its own (the sample caller)
    return gh.render(data["concurrency"]["group"], {"github": github, "inputs": inputs})


def calls(path: Path) -> list[tuple[Path, dict[str, str]]]:
    """(called workflow, its `with:`) for each job of `path` that calls one."""
    found = []
    for job in jobs_of(path).values():
        uses = job.get("uses", "")
        if uses.startswith("./.github/workflows/") or "/mlci/.github/workflows/" in uses:
            name = uses.split("/.github/workflows/")[1].split("@")[0]
            with_ = {key: str(value) for key, value in job.get("with", {}).items()}
            found.append((ROOT / ".github" / "workflows" / name, with_))
    return found


def chain_groups(
    path: Path, github: dict[str, Any], given: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """The group of `path` and of every workflow it calls, depth first: one run's groups."""
    groups = [(path.name, group(path, github, given))]
    for called, with_ in calls(path):
        groups += chain_groups(called, github, with_)
    return groups


RUNS = {
    "release tag": (
        RELEASE_YML,
        github_context("release", ".github/workflows/release.yml", "refs/tags/v1.2.3", "push"),
    ),
    "kit push": (
        CI_YML,
        github_context("ci", ".github/workflows/ci.yml", "refs/heads/main", "push"),
    ),
    "kit pull request": (
        CI_YML,
        github_context("ci", ".github/workflows/ci.yml", "refs/pull/7/merge", "pull_request", 7),
    ),
    "sample pull request": (
        SAMPLE_CALLER,
        github_context("ci", ".github/workflows/ci.yml", "refs/pull/7/merge", "pull_request", 7),
    ),
}


@pytest.mark.parametrize("run_name", list(RUNS))
def test_no_called_workflow_shares_a_concurrency_group_with_its_callers(run_name: str) -> None:
    """Equal groups of a caller and a callee: GitHub cancels the run as a deadlock (release.yml
    calling ci.yml did: both were `release-<ref>`, so nothing was ever published)."""
    path, github = RUNS[run_name]
    groups = chain_groups(path, github)
    named = [g for _, g in groups if g]
    assert len(named) == len(set(named)), groups
    assert groups[-1][0] == "test.yml" and groups[-1][1]  # the chain reached the kit's workflow
    if path == RELEASE_YML:
        assert [name for name, _ in groups] == ["release.yml", "ci.yml", "test.yml"]


def test_the_shipped_release_deadlock_is_caught() -> None:
    """The groups as they shipped: ci.yml's `${{ github.workflow }}-<ref>` under release.yml's
    `release-<ref>` render equal."""
    github = RUNS["release tag"][1]
    caller = gh.render("release-${{ github.ref }}", {"github": github})
    callee = gh.render(
        "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
        {"github": github},
    )
    assert caller == callee


def test_called_workflows_never_build_their_group_from_github_workflow() -> None:
    for path in WORKFLOWS:
        data = load(path)
        if "workflow_call" in (data["on"] or {}):
            assert "github.workflow }}" not in data["concurrency"]["group"], path.name


def test_two_calls_in_one_run_get_their_own_groups_and_names() -> None:
    """A monorepo's caller with one job per project: neither call cancels or waits on the
    other, and their artifacts and caches do not collide."""
    github = github_context(
        "ci", ".github/workflows/ci.yml", "refs/pull/3/merge", "pull_request", 3
    )
    first = group(TEST_YML, github, {"working-directory": "models/a"})
    second = group(TEST_YML, github, {"working-directory": "models/b"})
    same_folder = group(TEST_YML, github, {"working-directory": "models/a", "call-id": "gpu"})
    assert len({first, second, same_folder}) == 3
    # Another caller file of the same repository, same pull request, same project: its own group.
    nightly = dict(github, workflow_ref="acme/repo/.github/workflows/nightly.yml@refs/pull/3/merge")
    assert group(TEST_YML, nightly, {"working-directory": "models/a"}) != first


def test_the_uv_cache_follows_what_the_environments_are_built_from() -> None:
    [setup] = [s for s in load(ACTIONS[0])["runs"]["steps"] if "setup-uv" in s.get("uses", "")]
    globs = setup["with"]["cache-dependency-glob"].splitlines()
    folder = "${{ inputs.working-directory }}"
    for name in ("pyproject.toml", "uv.lock", "requirements*.txt"):
        assert f"{folder}/{name}" in globs, name
