"""What goes into a session environment, as one uv command: a pure function of the settings.

Running it (and reporting a failure) is `nox_sessions.py`'s job; `mlci sessions` shows it.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci._version import __version__
from mlci.config.settings import Settings
from mlci.envs import locks, torch_source, uv_sources
from mlci.envs.image import ImageTorch
from mlci.envs.torch_source import TORCH_FAMILY, TorchSource


@dataclass(frozen=True)
class InstallRequest:
    """`uv pip install --python <env> <args>`, with `environment` added to uv's variables."""

    args: list[str]
    source: TorchSource | None
    environment: dict[str, str] = field(default_factory=dict)
    # Files beside pyproject.toml whose content the environment follows (a change rebuilds it).
    follows_files: tuple[Path, ...] = ()
    follows: str = "pyproject.toml, resolved afresh"
    locked: bool = False  # follows uv.lock: checked for staleness before installing
    locked_torch: tuple[str, ...] = ()  # torch versions the lock pins


def request(
    settings: Settings,
    backend: str,
    tools: tuple[str, ...],
    cache_dir: Path,
    image: ImageTorch | None = None,
) -> InstallRequest:
    """The install of the project (with its extras and groups), the session tools and mlci.

    image: install around the torch of a GPU image (gpu-torch = image) instead of a build.
    Reads `UV_INDEX` and index credentials from the environment only when the project names its
    own torch index (uv_sources.py).
    """
    pyproject = settings.project.pyproject
    source = None
    if image is None:
        source = torch_source.resolve(
            backend,
            settings.torch_index,
            cache_dir,
            allow_insecure=settings.allow_insecure_index,
            family=torch_family(pyproject, settings),
        )
    root = settings.root
    extras = settings.extras
    project = str(root) + (f"[{','.join(extras)}]" if extras else "")
    groups = [f"--group={root / 'pyproject.toml'}:{group}" for group in settings.dependency_groups]
    files = [["-r", str(root / name)] for name in settings.requirements]
    files += [["-c", str(root / name)] for name in settings.constraints]
    followed = [root / name for name in (*settings.requirements, *settings.constraints)]
    follows = "pyproject.toml, resolved afresh"
    lock = settings.project.lock if settings.resolution == "locked" else None
    locked: tuple[str, ...] = ()
    if image is not None:
        asked = (*asked_requirements(pyproject, settings), *tools, *_mlci_requires())
        own = ("mlci", settings.project.shown_name)
        files.append(["--override", str(image.overrides(cache_dir, asked, own))])
    if lock is not None:
        pins, versions = locks.constraints(
            root, settings.dependency_groups, extras, backend, cache_dir
        )
        locked = tuple(versions)
        files.append(["-c", str(pins)])
        followed.append(lock)
        follows = f"{locks.lock_named(root, lock)} (its versions"
        follows += f"; torch {', '.join(locked)} as +{backend})" if locked and source else ")"
    elif (ignored := settings.project.lock) is not None:
        follows = f"pyproject.toml, resolved afresh (resolution = newest: {ignored.name} ignored)"
    if settings.requirements or settings.constraints:
        follows += " with " + ", ".join([*settings.requirements, *settings.constraints])
    if image is not None:
        follows += f"; torch {image.torch} (CUDA {image.cuda}) of the image, kept"
    environment: dict[str, str] = {}
    if source is not None:
        # The project's own torch index (uv's PyTorch guide) gives way to the job's build.
        replaced = uv_sources.replaced_indexes(settings.project, source)
        environment = {**source.environment(), **uv_sources.index_environment(replaced, source)}
        if replaced:
            indexes = "index" if len(replaced) == 1 else "indexes"
            follows += f"; its torch {indexes} {', '.join(replaced)} replaced by the job's"
    pinned = project_names(pyproject, settings)
    kept = [tool for tool in tools if _normal(tool) not in pinned]
    if len(kept) < len(tools):
        # The project names these tools itself: its own requirement (a pin, a range) decides,
        # never mlci's lower bound beside it (a conflict the user would have to untangle).
        theirs = sorted({_normal(tool) for tool in tools} & pinned)
        follows += f"; {', '.join(theirs)} as the project requires"
    args = ["-e", project, *groups, *[arg for pair in files for arg in pair]]
    args += [*kept, *mlci_requirement()]
    if source is not None:
        args += source.install_args()
    return InstallRequest(
        args, source, environment, tuple(followed), follows, lock is not None, locked
    )


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(requirement: str) -> str:
    match = _NAME.match(requirement)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else ""


def project_names(pyproject: Mapping[str, Any], settings: Settings) -> set[str]:
    """Every distribution the session installs because the project asks for it: its
    dependencies, the chosen extras and groups, and the requirements files."""
    names = set(_requirement_names(pyproject, settings))
    for name in settings.requirements:
        try:
            lines = (settings.root / name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue  # validation names a missing file; uv names an unreadable one
        names.update(_normal(line) for line in lines if line.strip()[:1].isalnum())
    return names - {""}


def asked_requirements(pyproject: Mapping[str, Any], settings: Settings) -> list[str]:
    """The requirements the project states itself: dependencies, the chosen extras and groups,
    and the lines of its requirements files (options and comments included; callers parse)."""
    found = _requirements(pyproject, settings)
    for name in (*settings.requirements, *settings.constraints):
        try:
            text = (settings.root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # validation names a missing file; uv names an unreadable one
        found += [_requirement_of(line) for line in text.splitlines() if line.strip()]
    return found


def _requirement_of(line: str) -> str:
    """A requirements-file line without its comment, `--hash` options and continuation."""
    words = line.split(" #")[0].replace("\\", " ").split()
    return " ".join(word for word in words if not word.startswith("--hash"))


def _mlci_requires() -> list[str]:
    """mlci's own requirements (it is installed into every session environment)."""
    try:
        return list(importlib.metadata.requires("mlci") or ())
    except importlib.metadata.PackageNotFoundError:
        return []


def _requirement_names(pyproject: Mapping[str, Any], settings: Settings) -> list[str]:
    return [_normal(r) for r in _requirements(pyproject, settings)]


def _requirements(pyproject: Mapping[str, Any], settings: Settings) -> list[str]:
    project = pyproject.get("project", {})
    requirements: list[str] = list(project.get("dependencies", []))
    for extra in settings.extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    for group in settings.dependency_groups:
        requirements += [
            item
            for item in pyproject.get("dependency-groups", {}).get(group, [])
            if isinstance(item, str)
        ]
    return [r for r in requirements if isinstance(r, str)]


def torch_family(pyproject: Mapping[str, Any], settings: Settings) -> tuple[str, ...]:
    """torch, plus torchvision/torchaudio when the project asks for them by name: they must
    come from the same index as torch (PyPI's builds do not match a CPU torch)."""
    named = set(_requirement_names(pyproject, settings))
    return tuple(name for name in TORCH_FAMILY if name == "torch" or name in named)


def mlci_requirement() -> list[str]:
    """Install the same mlci into session environments (its pytest plugin, `mlci doctor`)."""
    tree = Path(__file__).resolve().parents[3]
    if (tree / "pyproject.toml").is_file() and (tree / "src" / "mlci").is_dir():
        return ["-e", str(tree)]  # a source checkout of the kit
    try:
        direct = importlib.metadata.distribution("mlci").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        direct = None
    if direct:
        origin = json.loads(direct)
        url = origin.get("url", "")
        vcs = origin.get("vcs_info")
        if vcs:  # installed from git (the GitLab template does): the very same commit
            return [f"{vcs['vcs']}+{url}@{vcs['commit_id']}"]
        if url.startswith("file://"):
            return [urllib.request.url2pathname(urllib.parse.urlparse(url).path)]
    return [f"mlci=={__version__}"]


UV_CROSS = "\N{MULTIPLICATION SIGN}"  # how uv starts a resolution error


def failure_reason(output: str, failed: InstallRequest) -> str:
    """Why `uv pip install` failed, in one line: uv's own reason, and a hint where it fits
    (a locked torch the source has no build of; the torch source, for network errors)."""
    # uv names the requirements by the file that holds them; mlci's own is an internal name.
    reason = _uv_reason(output, failed.source).replace(
        "mlci-torch-source", "mlci's session install (torch from the job's index, its tools)"
    )
    source = failed.source
    torch = [v for v in failed.locked_torch if f"torch=={v}" in output]
    if torch and source is not None:
        reason = (
            f"uv.lock pins torch {torch[0]}, and {source.shown} has no {source.backend} build"
            f" of it: {reason}"
        )
    return reason


def _uv_reason(output: str, source: TorchSource | None) -> str:
    """uv's own first error line, with what it lists after a trailing colon, plus a hint only
    where it fits."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    start = next(
        (i for i, line in enumerate(lines) if line.lstrip().startswith(("error:", UV_CROSS))),
        len(lines) - 1,
    )
    if start < 0:
        return "uv failed without a message"
    first, after = _with_items(lines, start)
    reason = first.removeprefix("error:").removeprefix(UV_CROSS).strip()
    # "No solution found when resolving dependencies" names no cause; the next line does.
    following = lines[after].strip() if after < len(lines) else ""
    if following.startswith(_CAUSE):
        cause = _with_items(lines, after)[0]
        cause = cause.removeprefix(_CAUSE[0]).removeprefix(_CAUSE[1]).strip()
        reason = f"{reason.rstrip(':')}: {cause}"
    network = ("Failed to fetch", "Connection", "dns error", "timed out", "HTTP status", "503")
    if source is not None and (
        "torch" in output.lower() and any(word in output for word in network)
    ):
        reason += (
            f" (torch comes from {source.origin}: {source.shown}; uv retries network errors"
            " UV_HTTP_RETRIES times, 3 by default)"
        )
    return reason


_CAUSE = ("╰─▶", "cause:")  # how uv starts the line that says why (with and without colour)


def _with_items(lines: list[str], at: int) -> tuple[str, int]:
    """Line `at`, stripped, with the items uv lists under it when it ends in a colon (the
    conflicting indexes, the versions there are) joined on; and the index of the next line."""
    text = lines[at].strip()
    if not text.endswith(":") or at + 1 >= len(lines):
        return text, at + 1
    first = lines[at + 1]
    bullet = first.lstrip().startswith("- ")
    depth = len(first) - len(first.lstrip())
    deeper = depth > len(lines[at]) - len(lines[at].lstrip())
    if first.lstrip().startswith(_CAUSE) or not (bullet or deeper):
        return text, at + 1
    items: list[str] = []
    end = at + 1
    # One list: the lines at the first item's depth, of the same kind (bullets or not).
    while end < len(lines) and len(lines[end]) - len(lines[end].lstrip()) == depth:
        item = lines[end].strip()
        if item.startswith("- ") != bullet:
            break
        items.append(item.removeprefix("- ").strip())
        end += 1
    return f"{text} {', '.join(items)}", end
