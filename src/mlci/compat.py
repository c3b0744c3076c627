"""Which torch release supports which Python versions and CUDA builds: data/torch-compat.toml."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

from mlci._toml import tomllib


@dataclass(frozen=True)
class TorchRelease:
    version: str
    pythons: tuple[str, ...]
    cuda: tuple[str, ...]
    pypi_cuda: str


@dataclass(frozen=True)
class Compat:
    """The whole table: releases by minor version, and minimum drivers by CUDA major."""

    releases: dict[str, TorchRelease]
    min_driver: dict[str, str]

    @property
    def newest(self) -> TorchRelease:
        return self.releases[max(self.releases, key=version_key)]

    def release(self, version: str) -> TorchRelease | None:
        """The release for `2.13` or `2.13.1` (wheels are per minor release)."""
        return self.releases.get(".".join(version.split(".")[:2]))

    def driver_for(self, backend: str) -> str | None:
        """Minimum NVIDIA driver for a CUDA build (`cu128` or `cu12` -> the CUDA 12 minimum)."""
        return self.min_driver.get(backend[:4]) if backend.startswith("cu") else None


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for dotted versions (`3.9` before `3.10`)."""
    return tuple(int(part) for part in version.split("."))


@functools.cache
def load() -> Compat:
    """Read the table shipped with mlci (once per process)."""
    text = importlib.resources.files("mlci").joinpath("data/torch-compat.toml").read_text()
    data = tomllib.loads(text)
    releases = {
        version: TorchRelease(
            version=version,
            pythons=tuple(entry["pythons"]),
            cuda=tuple(entry["cuda"]),
            pypi_cuda=entry["pypi-cuda"],
        )
        for version, entry in data["torch"].items()
    }
    return Compat(releases=releases, min_driver=dict(data["min-driver"]))
