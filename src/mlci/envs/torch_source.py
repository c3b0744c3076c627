"""Where a session's torch comes from, and the guards that keep CUDA builds out of CPU sessions.

A backend (`cpu`, `cu128`, ...) names PyTorch's wheel index for it. `torch-index`
(`MLCI_TORCH_INDEX`) replaces that index with a mirror URL or a local folder of wheels; a folder
is turned into a small PEP 503 index (with a plain `--find-links`, PyPI's newer CUDA build would
win).

The index serves torch only, as uv's PyTorch guide sets it up: an *explicit* index, named in
`[tool.uv.sources]` for torch. Given to uv as a plain `--index`, it would also serve every other
package it lists (numpy, pillow, sympy, ...), since uv takes a package from the first index that
has it. uv reads that setup from a pyproject.toml, so mlci writes a tiny one, passed with `-r`.
A project that names its own torch index that way gets the job's in its place (uv_sources.py).
"""

from __future__ import annotations

import ast
import hashlib
import html
import importlib.metadata
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from mlci.config.checks import redact
from mlci.envs import uv_cache
from mlci.errors import ConfigError

PYTORCH_INDEX = "https://download.pytorch.org/whl"
INDEX_NAME = "mlci-torch"
# Served by the torch index when the project asks for them: builds made for the same torch.
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")


def credential_variables(index_name: str) -> tuple[str, str]:
    """uv's variables for a named index's credentials (user name, password), named as uv
    derives them: letters and digits upper-cased, anything else `_`."""
    stem = "".join(c.upper() if c.isascii() and c.isalnum() else "_" for c in index_name)
    return f"UV_INDEX_{stem}_USERNAME", f"UV_INDEX_{stem}_PASSWORD"


# The routing index's credentials (the URL in the routing file carries none).
CREDENTIAL_VARIABLES = credential_variables(INDEX_NAME)

# Packages only a CUDA build of torch pulls in. A CPU session constrains each to a version that
# cannot exist, so a wrong wheel source fails the install loudly instead of downloading ~3 GB.
CUDA_ONLY_PACKAGES = (
    "cuda-toolkit",
    *(
        f"nvidia-{lib}{suffix}"
        for lib in ("cuda-runtime", "cublas", "cudnn", "nccl")
        for suffix in ("", "-cu11", "-cu12", "-cu13")
    ),
    "triton",
)
IMPOSSIBLE_VERSION = "0+mlci.cpu.session.forbids.cuda"
# Names of what only a CUDA build of torch needs (a lock's pins, an image's packages).
CUDA_ONLY = re.compile(r"(nvidia-|cuda-|triton\b|pytorch-triton\b)", re.I)

# Run in a session's Python after install (mlci is installed there): exits with the problem.
CPU_ONLY_CHECK = "import sys, mlci.envs.torch_source as s; sys.exit(s.cpu_only_problem())"

_WHEEL = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")


@dataclass(frozen=True)
class TorchSource:
    """The index uv takes torch from, and the constraints that go with it."""

    backend: str
    index_url: str  # without credentials
    origin: str
    requirements: Path  # the pyproject.toml that routes torch to the index (see above)
    constraints: Path | None = None
    username: str = ""
    password: str = ""

    @property
    def shown(self) -> str:
        """The index as printed: credentials never appear."""
        return self.index_url + (" (with credentials)" if self.username or self.password else "")

    def install_args(self) -> list[str]:
        args = ["-r", str(self.requirements)]
        if self.constraints is not None:
            args += ["--constraint", str(self.constraints)]
        return args

    def environment(self) -> dict[str, str]:
        """Variables for the uv process: the index's credentials, when the URL had any."""
        if not (self.username or self.password):
            return {}
        return dict(zip(CREDENTIAL_VARIABLES, (self.username, self.password), strict=True))


def mlci_cache() -> Path:
    """Where mlci keeps generated files: one place for every project and session, so that uv
    sees one index URL per folder of wheels and caches each wheel once (MLCI_CACHE_DIR)."""
    explicit = os.environ.get("MLCI_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "mlci"


def default_index(backend: str) -> str:
    return f"{PYTORCH_INDEX}/{backend}"


def resolve(
    backend: str,
    override: str,
    cache_dir: Path,
    *,
    allow_insecure: bool = False,
    family: tuple[str, ...] = ("torch",),
) -> TorchSource | None:
    """The torch source for a backend; None when the project does not use torch.

    family: the torch packages the project asks for (torchvision, torchaudio): all from the
    same index.
    """
    if backend == "none":
        return None
    username = password = ""
    if not override:
        url, origin = default_index(backend), "PyTorch index"
    elif "://" in override:
        url, username, password = split_credentials(checked_url(override, allow_insecure))
        origin = "torch-index (URL)"
    else:
        url, origin = folder_index(Path(override).expanduser(), family), "torch-index (folder)"
    constraints = cpu_constraints(cache_dir) if backend == "cpu" else None
    requirements = routing_requirements(url, family, cache_dir)
    return TorchSource(backend, url, origin, requirements, constraints, username, password)


def checked_url(url: str, allow_insecure: bool = False) -> str:
    """A URL index must be https (http only when allowed); a file:// one must exist and hold
    torch, since uv says nothing and falls back to PyPI's CUDA build."""
    shown = redact(url)
    if url.startswith("http://") and not allow_insecure:
        raise ConfigError(
            f"torch-index: {shown} is plain http (packages and credentials unencrypted): use"
            " https, or set allow-insecure-index = true for a mirror on a trusted network"
        )
    if url.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
        if not (path / "torch").is_dir():
            hint = (
                " (it looks one level too high: add /simple)"
                if (path / "simple" / "torch").is_dir()
                else ""
            )
            raise ConfigError(f"torch-index: {shown} has no torch/ project page{hint}")
    return url


def split_credentials(url: str) -> tuple[str, str, str]:
    """(URL without user-info, user name, password), unquoted."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    userinfo, host = parts.netloc.rsplit("@", 1)
    username, _, password = userinfo.partition(":")
    bare = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return bare, urllib.parse.unquote(username), urllib.parse.unquote(password)


def routing_requirements(url: str, family: tuple[str, ...], cache_dir: Path) -> Path:
    """A pyproject.toml whose dependencies are the torch family, each from the explicit index."""
    sources = "\n".join(f'{name} = {{ index = "{INDEX_NAME}" }}' for name in family)
    dependencies = ", ".join(f'"{name}"' for name in family)
    text = (
        "# Written by mlci: torch comes from this index, everything else from the default one.\n"
        "[project]\n"
        'name = "mlci-torch-source"\n'
        'version = "0"\n'
        f"dependencies = [{dependencies}]\n\n"
        f"[tool.uv.sources]\n{sources}\n\n"
        "[[tool.uv.index]]\n"
        f'name = "{INDEX_NAME}"\n'
        f'url = "{url}"\n'
        "explicit = true\n"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = cache_dir.resolve() / "mlci-torch-source" / digest / "pyproject.toml"
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def folder_index(folder: Path, family: tuple[str, ...] = ("torch",)) -> str:
    """Turn a folder of wheels into a PEP 503 index (one page per project) and return its URL.

    The index lives in uv's cache, at a path made from the wheels alone: uv keys its unpacked
    wheels by the index URL, so an index per project (or per test folder) would unpack torch
    again for each, 700 MB of disk every time; this way every project on the machine shares one.
    """
    if not folder.is_dir():
        raise ConfigError(f"torch-index: {folder} is neither a URL nor an existing folder")
    if (folder / "torch" / "index.html").is_file():
        return folder.resolve().as_uri()  # already an index
    # The torch family only: nothing else is ever routed to the index, and a project that
    # names its own torch index gets this one under that name as an ordinary index
    # (uv_sources.py), searched first for every package it lists.
    wheels: dict[str, list[Path]] = {}
    for wheel in sorted(folder.resolve().glob("*.whl")):
        match = _WHEEL.match(wheel.name)
        if match and _normalize(match["name"]) in TORCH_FAMILY:
            wheels.setdefault(_normalize(match["name"]), []).append(wheel)
    if "torch" not in wheels:
        raise ConfigError(f"torch-index: no torch wheel in {folder}")
    # The whole family comes from this one source: a missing member would reach the user as
    # uv's "not found in the package registry", naming none of this.
    missing = [name for name in family if _normalize(name) not in wheels]
    if missing:
        raise ConfigError(
            f"torch-index: {folder} has no {' or '.join(missing)} wheel, which the project asks"
            " for (torch's family all comes from torch-index): add its wheel to the folder, or"
            " point torch-index at an index that has it"
        )
    digest = hashlib.sha256(
        "\n".join(f"{w}:{w.stat().st_size}" for ws in wheels.values() for w in ws).encode()
    ).hexdigest()[:16]
    index = uv_cache.folder() / "mlci-index" / digest
    for name, files in wheels.items():
        page = index / name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        links = "\n".join(
            f'<a href="{html.escape(w.as_uri())}">{html.escape(w.name)}</a><br/>' for w in files
        )
        text = f"<!DOCTYPE html>\n<html><body>\n{links}\n</body></html>\n"
        if not page.is_file() or page.read_text() != text:
            # Shared by every project on the machine: a uv of another job may be reading it,
            # so it sees the old page or the new one, never half of one.
            partial = page.with_name(f"index.html.{os.getpid()}.tmp")
            partial.write_text(text)
            os.replace(partial, page)
    return index.as_uri()


_CPYTHON_TAG = re.compile(r"-cp3([0-9]+)-")


def folder_pythons(override: str) -> set[str] | None:
    """The Pythons a folder of torch wheels has builds for (`{"3.11"}`); None when the source
    is not a folder (an index has them all, or says so when asked)."""
    folder = Path(override).expanduser() if override and "://" not in override else None
    if folder is None or not folder.is_dir():
        return None
    found = set()
    for wheel in folder.glob("torch-*.whl"):
        match = _CPYTHON_TAG.search(wheel.name)
        if match:
            found.add(f"3.{match[1]}")
    return found


def cpu_constraints(cache_dir: Path) -> Path:
    path = cache_dir.resolve() / "mlci-cpu-constraints.txt"
    lines = ["# mlci: a CPU session never installs CUDA packages (see torch-index in the README)"]
    lines += [f"{name}=={IMPOSSIBLE_VERSION}" for name in CUDA_ONLY_PACKAGES]
    text = "\n".join(lines) + "\n"
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def cpu_only_problem() -> str | None:
    """Why this environment is not a CPU one: CUDA packages, or torch's own build
    (torch.version.cuda, read from torch/version.py without importing torch). None: it is."""
    bad = sorted(
        {
            name
            for dist in importlib.metadata.distributions()
            if (name := dist.metadata["Name"] or "").lower().startswith(("nvidia-", "cuda-"))
        }
    )
    if bad:
        return f"mlci: CUDA packages in a CPU session: {', '.join(bad)}"
    try:
        torch = importlib.metadata.distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    version_py = Path(str(torch.locate_file("torch/version.py")))
    cuda = torch_cuda_of(version_py) if version_py.is_file() else None
    if cuda is not None:
        return f"mlci: torch {torch.version} is a CUDA {cuda} build in a CPU session"
    return None


def torch_cuda_of(version_py: Path) -> str | None:
    """torch.version.cuda as torch/version.py states it (None: a CPU build)."""
    for node in ast.parse(version_py.read_text(encoding="utf-8")).body:
        target: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        elif isinstance(node, ast.Assign) and node.targets:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "cuda" and value is not None:
            found = ast.literal_eval(value)
            return None if found is None else str(found)
    return None
