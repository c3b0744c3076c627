"""Run the kit's GitLab template with gitlab-ci-local, included the way a user includes it.

`include: project: acme/mlci` + `ref:` resolves offline: gitlab-ci-local runs `git archive
--remote=ssh://git@gitlab.com:22/acme/mlci.git`, and a throwaway git config (GIT_CONFIG_GLOBAL,
never the user's) rewrites that host to a folder holding a bare clone of this kit. The jobs'
`uv tool install git+https://gitlab.com/acme/mlci.git@<tag>` goes through the same rewrite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlci._version import __version__
from tests.e2e.act_harness import kit_copy
from tests.sample import ANSI, commit_all, copy_sample, git

TAG = f"v{__version__}"


def gitlab_ci_local() -> str:
    found = shutil.which("gitlab-ci-local")
    assert found, "gitlab-ci-local is not on PATH (.ci/run installs it from npm)"
    return found


def bare_kit(work: Path, extra_tags: tuple[str, ...] = ()) -> Path:
    """A bare clone of this kit tagged as its own release, at <work>/remotes/acme/mlci.git."""
    kit = kit_copy(work / "kit-tree", tag=TAG)
    for tag in extra_tags:
        git(kit, "tag", tag)
    remotes = work / "remotes"
    (remotes / "acme").mkdir(parents=True)
    git(work, "clone", "-q", "--bare", str(kit), str(remotes / "acme" / "mlci.git"))
    return remotes


def caller(
    dest: Path,
    inputs: dict[str, Any] | None = None,
    gpu_inputs: dict[str, Any] | None = None,
    edit: Callable[[Path], None] | None = None,
) -> Path:
    """A copy of the sample project, its own .gitlab-ci.yml with the mlci include's inputs
    replaced by `inputs` (when given) and mlci-gpu.yml added (when gpu_inputs are given)."""
    copy_sample(dest)
    path = dest / ".gitlab-ci.yml"
    config = yaml.safe_load(path.read_text())
    main = next(i for i in config["include"] if i["file"].endswith("/mlci.yml"))
    if inputs is not None:
        main["inputs"] = inputs
    if gpu_inputs is not None:
        config["include"].append(
            {**main, "file": "ci-templates/gitlab/mlci-gpu.yml", "inputs": gpu_inputs}
        )
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    if edit is not None:
        edit(dest)
    return as_gitlab_repository(dest)


def as_gitlab_repository(dest: Path) -> Path:
    """Commit the project and give it an origin on gitlab.com, as a user's clone has."""
    commit_all(dest, "project under test")
    git(dest, "remote", "add", "origin", "git@gitlab.com:acme/sample-model.git")
    git(dest, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(dest, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return dest


@dataclass
class Pipeline:
    returncode: int
    output: str
    project: Path

    def status(self) -> dict[str, str]:
        """Job name -> PASS/FAIL, from gitlab-ci-local's closing lines."""
        found = re.findall(
            r"^ (PASS|FAIL|WARN) +(\S.*?)\s*(?:\d+(?:\.\d+)?% coverage)?$", self.output, re.M
        )
        return {name.strip(): state for state, name in found}

    def artifacts(self, job_prefix: str) -> Path:
        folders = sorted((self.project / ".gitlab-ci-local" / "artifacts").glob(f"{job_prefix}*"))
        assert folders, f"no artifacts of {job_prefix}"
        return folders[0]


def run_pipeline(
    project: Path, remotes: Path, work: Path, *args: str, quick: bool = True
) -> Pipeline:
    gitconfig = work / "gitconfig"
    gitconfig.write_text(
        f'[url "{remotes}/"]\n\tinsteadOf = ssh://git@gitlab.com:22/\n\tinsteadOf = https://gitlab.com/\n'
        # gitlab-ci-local asks `git ls-remote git@gitlab.com:acme/mlci` for $[[ component.sha ]].
        "\tinsteadOf = git@gitlab.com:\n"
        "[user]\n\tname = mlci tests\n\temail = tests@mlci.invalid\n"
    )
    uv_cache = subprocess.run(
        ["uv", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "UV_TOOL_DIR": str(work / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(work / "uv-tools" / "bin"),
        "NO_COLOR": "1",
        "PY_COLORS": "0",
    }
    env.pop("MLCI_SESSION", None)
    # The host's uv cache, linked (the template copies): jobs start warm and take no disk.
    variables = {"UV_CACHE_DIR": uv_cache, "UV_LINK_MODE": "hardlink"}
    if quick:  # the sample's DDP test (two processes) runs in the runs that ask for it
        variables["MLCI_EXCLUDE_MARKERS"] = "distributed"
    if os.environ.get("MLCI_TORCH_INDEX"):
        variables["MLCI_TORCH_INDEX"] = os.environ["MLCI_TORCH_INDEX"]
    command = [
        gitlab_ci_local(),
        "--fetch-includes",
        "--force-shell-executor",
        "--shell-isolation",
        "--no-artifacts-to-source",
        *args,
    ]
    for key, value in variables.items():
        command += ["--variable", f"{key}={value}"]
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    output = ANSI.sub("", done.stdout + done.stderr)
    (work / "gitlab-ci-local.log").write_text(output)
    # Each job's build folder holds its own environments (GBs); artifacts and logs stay.
    shutil.rmtree(project / ".gitlab-ci-local" / "builds", ignore_errors=True)
    return Pipeline(done.returncode, output, project)
