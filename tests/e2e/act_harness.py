"""Run the kit's GitHub workflow with act, the way a user's repository calls it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlci._version import __version__
from mlci.ci import release
from tests.sample import ANSI, ROOT, commit_all, copy_sample, git

STAND_INS = Path(__file__).resolve().parent / "github-stand-ins"

KIT = "acme/mlci"
KIT_REF = release.major_tag(f"refs/tags/v{__version__}")  # this release's moving major tag
MATRIX_SUFFIX = re.compile(r"-\d+$")  # act names matrix legs "lint-1", "unit (3.11)-3"
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})\b")


def kit_copy(dest: Path, tag: str = KIT_REF, edit: Callable[[Path], None] | None = None) -> Path:
    """This working tree of the kit (uncommitted changes too) as a repository tagged `tag`.

    `edit` changes the copy before it is committed (to inject a fault into the kit itself).
    """
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    if edit is not None:
        edit(dest)
    commit_all(dest, "mlci under test")
    git(dest, "tag", tag)
    return dest


def sample_copy(
    dest: Path, with_lines: dict[str, str], edit: Callable[[Path], None] | None = None
) -> Path:
    """The sample project as its own repository, its caller workflow given extra `with:` lines.

    `edit` changes the copy (to break it on purpose) before it is committed.
    """
    copy_sample(dest)
    if edit is not None:
        edit(dest)
    caller = dest / ".github" / "workflows" / "ci.yml"
    lines = caller.read_text().splitlines(keepends=True)
    start = lines.index("    with:\n") + 1
    for key, value in with_lines.items():
        entry = f"      {key}: {value}\n"
        found = [i for i, line in enumerate(lines) if line.startswith(f"      {key}:")]
        if found:
            lines[found[0]] = entry
        else:
            lines.insert(start, entry)
    caller.write_text("".join(lines))
    commit_all(dest, "sample project")
    return dest


def pinned_actions(kit: Path) -> dict[str, str]:
    """owner/repo -> SHA of every remote action the kit's workflow files pin."""
    pins: dict[str, str] = {}
    for path in [*kit.glob(".github/workflows/*.yml"), *kit.glob(".github/actions/*/action.yml")]:
        for repo, sha in USES.findall(path.read_text()):
            pins[repo] = sha
    return pins


@dataclass
class ActRun:
    returncode: int
    lines: list[dict[str, object]] = field(default_factory=list)
    artifacts: Path = Path()

    @property
    def text(self) -> str:
        return "\n".join(ANSI.sub("", str(line.get("msg", ""))) for line in self.lines)

    def job_results(self, called: bool = True) -> dict[str, str]:
        """Job name -> success/failure, from each job's own step results.

        called: the jobs of a workflow that the caller's job calls (`uses:`); else the jobs of
        the workflow act ran directly.

        act marks every leg of a matrix failed when one leg fails, so a job is judged by its
        steps: it failed when any of its main steps failed.
        """
        results: dict[str, str] = {}
        for line in self.lines:
            job = line.get("job")
            depth = 2 if called else 1
            # Split from the left only: a job's own name may hold a slash (`unit (3.11, 1/3)`).
            parts = job.split("/", depth) if isinstance(job, str) else []
            if len(parts) != depth + 1 or not isinstance(job, str):
                continue  # the caller's own job line, or not a job line
            name = parts[-1].strip()
            leg = bool(line.get("matrix"))
            if leg:
                name = MATRIX_SUFFIX.sub("", name)
            results.setdefault(name, "success")
            failed_step = line.get("stepResult") == "failure"
            failed_job = "jobResult" in line and line["jobResult"] != "success" and not leg
            if failed_step or failed_job:
                results[name] = "failure"
        return results

    def job_log(self, job: str) -> str:
        return "\n".join(
            ANSI.sub("", str(line.get("msg", ""))) for line in self.lines if line.get("job") == job
        )


def run_act(
    caller: Path,
    kit: Path,
    work: Path,
    labels: tuple[str, ...] = ("ubuntu-latest",),
    *,
    workflow: str = ".github/workflows/ci.yml",
    ref: str | None = None,
    job: str | None = None,
    event: dict[str, object] | None = None,
    cache: Path | None = None,
    event_name: str = "push",
    quick: bool = True,
) -> ActRun:
    """act runs `workflow` of the `caller` repository on a push (to `ref`, when given), or on
    another event (`event_name`, its payload `event`)."""
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    uv_cache = subprocess.run(
        ["uv", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "UV_CACHE_DIR": uv_cache,
        "UV_TOOL_DIR": str(work / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(work / "uv-tools" / "bin"),
        "PRE_COMMIT_HOME": os.environ.get(
            "PRE_COMMIT_HOME", str(Path.home() / ".cache" / "pre-commit")
        ),
        "MLCI_STANDIN_REPOS": f"{KIT}={kit}",
        "MLCI_STANDIN_ARTIFACTS": str(artifacts),
        "MLCI_STANDIN_TOOLS": str(STAND_INS),  # the stand-ins' shared scripts
        # actions/cache's stand-in store; two runs given the same folder share a cache.
        "MLCI_STANDIN_CACHE": str(cache or work / "cache"),
        "NO_COLOR": "1",
        "PY_COLORS": "0",
    }
    if quick:  # the sample's DDP test (two processes) runs in the runs that ask for it
        env["MLCI_EXCLUDE_MARKERS"] = "distributed"
    for name in (
        "PYENV_VERSION",
        "PYENV_ROOT",
        "SSL_CERT_FILE",
        "MLCI_TORCH_INDEX",
        "UV_PYTHON_DOWNLOADS",
        "NOX_DOWNLOAD_PYTHON",
        "UV_INDEX_URL",
        "PIP_INDEX_URL",
    ):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env_file = work / "act.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    command = [
        "act",
        event_name,
        "--workflows",
        workflow,
        "--json",
        "--env-file",
        str(env_file),
        "--action-cache-path",
        str(work / "act-cache"),
        "--local-repository",
        f"{KIT}@{KIT_REF}={kit}",
    ]
    if ref is not None or event is not None:
        # The event's payload: its ref, and any fields a test's caller reads.
        payload = work / "event.json"
        payload.write_text(json.dumps({**(event or {}), **({"ref": ref} if ref else {})}))
        command += ["--eventpath", str(payload)]
    if job is not None:
        command += ["--job", job]
    for label in labels:
        command += ["--platform", f"{label}=-self-hosted"]
    for repo, sha in pinned_actions(kit).items():
        stand_in = STAND_INS / repo.split("/")[1]
        assert stand_in.is_dir(), f"no stand-in for {repo}"
        command += ["--local-repository", f"{repo}@{sha}={stand_in}"]
    done = subprocess.run(
        command,
        cwd=caller,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
    )
    lines = []
    for raw in done.stdout.splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            lines.append({"msg": raw})
    run = ActRun(done.returncode, lines, artifacts)
    (work / "act.log").write_text(run.text + "\n" + done.stderr)
    shutil.rmtree(work / "act-cache", ignore_errors=True)  # one workspace copy per job: large
    return run
