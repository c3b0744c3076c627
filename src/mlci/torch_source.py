"""Where a session's torch comes from, and the guard that keeps CUDA builds out of CPU sessions.

A backend (`cpu`, `cu128`, ...) names PyTorch's wheel index for it.  `torch-index`
(`MLCI_TORCH_INDEX`) replaces that index with a mirror URL or a local folder of wheels; uv cannot
use a plain folder the way we need (with `--find-links` PyPI's newer CUDA build wins), so the
folder is turned into a small PEP 503 index that uv searches first.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from mlci.settings import ConfigError

PYTORCH_INDEX = "https://download.pytorch.org/whl"

# Packages only a CUDA build of torch pulls in.  A CPU session constrains each to a version that
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

# Run in a session's Python after install: names any CUDA package that got in anyway.
CPU_ONLY_CHECK = """
import importlib.metadata as md, sys
bad = sorted({(d.metadata["Name"] or "") for d in md.distributions()
              if (d.metadata["Name"] or "").lower().startswith(("nvidia-", "cuda-"))})
if bad:
    sys.exit("mlci: CUDA packages in a CPU session: " + ", ".join(bad))
"""

_WHEEL = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")


@dataclass(frozen=True)
class TorchSource:
    """The index uv searches first for torch, and the constraints that go with it."""

    backend: str
    index_url: str
    origin: str
    constraints: Path | None = None

    def install_args(self) -> list[str]:
        args = ["--index", self.index_url]
        if self.constraints is not None:
            args += ["--constraint", str(self.constraints)]
        return args


def mlci_cache() -> Path:
    """Where mlci keeps generated indexes: one place for every project and session, so that
    uv sees one index URL per folder of wheels and caches each wheel once (MLCI_CACHE_DIR)."""
    explicit = os.environ.get("MLCI_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "mlci"


def default_index(backend: str) -> str:
    return f"{PYTORCH_INDEX}/{backend}"


def resolve(backend: str, override: str, cache_dir: Path) -> TorchSource | None:
    """The torch source for a backend; None when the project does not use torch."""
    if backend == "none":
        return None
    if not override:
        url, origin = default_index(backend), "PyTorch index"
    elif "://" in override:
        url, origin = _checked_url(override), "torch-index (URL)"
    else:
        url, origin = folder_index(Path(override).expanduser(), cache_dir), "torch-index (folder)"
    constraints = cpu_constraints(cache_dir) if backend == "cpu" else None
    return TorchSource(backend, url, origin, constraints)


def _checked_url(url: str) -> str:
    """A file:// index must exist and hold torch: uv says nothing and falls back to PyPI."""
    if url.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
        if not (path / "torch").is_dir():
            hint = (
                " (it looks one level too high: add /simple)"
                if (path / "simple" / "torch").is_dir()
                else ""
            )
            raise ConfigError(f"MLCI_TORCH_INDEX: {url} has no torch/ project page{hint}")
    return url


def folder_index(folder: Path, cache_dir: Path) -> str:
    """Turn a folder of wheels into a PEP 503 index (one page per project) and return its URL."""
    if not folder.is_dir():
        raise ConfigError(f"MLCI_TORCH_INDEX: {folder} is neither a URL nor an existing folder")
    if (folder / "torch" / "index.html").is_file():
        return folder.resolve().as_uri()  # already an index
    wheels: dict[str, list[Path]] = {}
    for wheel in sorted(folder.resolve().glob("*.whl")):
        match = _WHEEL.match(wheel.name)
        if match:
            wheels.setdefault(_normalize(match["name"]), []).append(wheel)
    if "torch" not in wheels:
        raise ConfigError(f"MLCI_TORCH_INDEX: no torch wheel in {folder}")
    digest = hashlib.sha256(
        "\n".join(f"{w}:{w.stat().st_size}" for ws in wheels.values() for w in ws).encode()
    ).hexdigest()[:16]
    index = cache_dir.resolve() / "mlci-index" / digest
    for name, files in wheels.items():
        page = index / name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        links = "\n".join(
            f'<a href="{html.escape(w.as_uri())}">{html.escape(w.name)}</a><br/>' for w in files
        )
        page.write_text(f"<!DOCTYPE html>\n<html><body>\n{links}\n</body></html>\n")
    return index.as_uri()


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
