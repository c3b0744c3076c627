"""gpu-torch = image, without a GPU: which interpreter, what is pinned, what is refused."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import stat
import sys
import sysconfig
from pathlib import Path

import pytest

from mlci.config.settings import resolve
from mlci.envs import image, install
from mlci.errors import ConfigError


def fake_site(root: Path, torch_cuda: str | None, *, torch: bool = True) -> Path:
    """A site-packages with torch (only its metadata and version.py) and a CUDA package."""
    site = root / "site"
    site.mkdir(parents=True)
    dists = {"nvidia-cublas": "13.1.0", "triton": "3.6.0", "numpy": "2.4.0"}
    if torch:
        dists["torch"] = "2.11.0+cu130" if torch_cuda else "2.11.0+cpu"
        (site / "torch").mkdir()
        (site / "torch" / "version.py").write_text(
            f"from typing import Optional\n__version__ = '{dists['torch']}'\n"
            f"cuda: Optional[str] = {torch_cuda!r}\n"
        )
    for name, version in dists.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site


def fake_python(root: Path, site: Path) -> Path:
    """An interpreter (this one) that sees `site`, as an image's Python sees its packages."""
    python = root / "bin" / "python3"
    python.parent.mkdir(parents=True)
    python.write_text(
        f'#!/bin/sh\nexport PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}"\n'
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return python


def test_a_cuda_torch_and_its_cuda_packages_are_kept_out_of_the_install(tmp_path: Path) -> None:
    site = fake_site(tmp_path, "13.0")
    found = image.inspect(fake_python(tmp_path, site))
    assert (found.torch, found.cuda) == ("2.11.0+cu130", "13.0")
    assert found.pinned == {"torch": "2.11.0+cu130", "nvidia-cublas": "13.1.0", "triton": "3.6.0"}
    assert found.torch_site == str(site.resolve())
    assert found.installed["numpy"] == "2.4.0"  # the image's, first on its path
    lines = found.overrides(tmp_path / "cache").read_text().splitlines()
    # Requirements for no Python: uv leaves each out; imports find the image's own.
    for kept in (
        'nvidia-cublas ; python_version < "0"  # 13.1.0',
        'torch ; python_version < "0"  # 2.11.0+cu130',
        'triton ; python_version < "0"  # 3.6.0',
        'numpy ; python_version < "0"  # 2.4.0',
    ):
        assert kept in lines
    # A package the project asks a newer version of is installed beside the image; torch and
    # the CUDA packages never are.
    newer = found.overrides(tmp_path / "cache", ("numpy>=2.5", "torch>=2.12", "-e .")).read_text()
    assert "numpy ;" not in newer and 'torch ; python_version < "0"' in newer
    assert "numpy ;" in found.overrides(tmp_path / "cache", ("numpy>=2",)).read_text()


def test_the_copy_an_import_finds_is_the_one_read(tmp_path: Path) -> None:
    """A layer's own torch comes first on sys.path and hides the image's: it is what is read."""
    image_site = fake_site(tmp_path / "image", "13.0")
    layer_site = fake_site(tmp_path / "layer", None)
    python = fake_python(tmp_path, image_site)
    seen_first = fake_python(tmp_path / "layered", layer_site)
    layered = seen_first.with_name("python-layered")
    layered.write_text(
        seen_first.read_text().replace(str(layer_site), f"{layer_site}:{image_site}")
    )
    layered.chmod(seen_first.stat().st_mode)
    before = image.inspect(python)
    with pytest.raises(ConfigError, match="a CPU build"):
        image.inspect(layered)  # the layer's CPU torch is the one imports find
    hidden = dataclasses.replace(before, torch_site=str(layer_site.resolve()))
    assert image.changed(before, hidden) == [
        f"torch 2.11.0+cu130 imported from {layer_site.resolve()}, not the image's"
    ]


@pytest.mark.parametrize(
    ("cuda", "has_torch", "message"),
    [
        (None, True, "has torch 2.11.0+cpu, a CPU build; a GPU job needs the image's CUDA build"),
        (None, False, "has no torch; use an image with CUDA torch"),
    ],
)
def test_an_image_without_cuda_torch_is_refused(
    tmp_path: Path, cuda: str | None, has_torch: bool, message: str
) -> None:
    python = fake_python(tmp_path, fake_site(tmp_path, cuda, torch=has_torch))
    with pytest.raises(ConfigError, match=re.escape(message)):
        image.inspect(python)


def test_which_interpreter(tmp_path: Path) -> None:
    python = fake_python(tmp_path, fake_site(tmp_path, "13.0"))
    # Named: used, in or out of CI.
    assert image.find_python({"MLCI_IMAGE_PYTHON": str(python)}) == python
    with pytest.raises(ConfigError, match="is not a Python interpreter"):
        image.find_python({"MLCI_IMAGE_PYTHON": str(tmp_path / "nope")})
    # Locally, never an interpreter nobody named.
    with pytest.raises(ConfigError, match="locally name the interpreter to change"):
        image.find_python({"PATH": str(python.parent)})
    # In CI (the job's own, throwaway image): the first python3 on PATH that has torch.
    empty = tmp_path / "empty"
    empty_python = fake_python(empty, fake_site(empty, None, torch=False))
    path = f"{empty_python.parent}:{python.parent}"
    assert image.find_python({"CI": "true", "PATH": path}) == python
    with pytest.raises(ConfigError, match="no python3 on PATH has torch"):
        image.find_python({"CI": "true", "PATH": str(empty_python.parent)})


def test_the_install_keeps_the_images_torch_and_takes_no_torch_index(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\ndependencies = ['torch']\n")
    found = image.inspect(fake_python(tmp_path, fake_site(tmp_path, "13.0")))
    settings = resolve(tmp_path, environ={"MLCI_GPU_TORCH": "image"})
    request = install.request(settings, "image", ("pytest>=8",), tmp_path / "cache", image=found)
    assert request.source is None and "-r" not in request.args  # no torch index at all
    overrides = request.args[request.args.index("--override") + 1]
    assert 'torch ; python_version < "0"' in Path(overrides).read_text()
    assert "torch 2.11.0+cu130 (CUDA 13.0) of the image, kept" in request.follows


def test_a_moved_package_is_named(tmp_path: Path) -> None:
    before = image.ImageTorch(tmp_path, tmp_path, "2.11.0", "13.0", {"torch": "2.11.0"})
    after = image.ImageTorch(tmp_path, tmp_path, "2.12.0", "13.0", {"torch": "2.12.0"})
    assert image.changed(before, after) == ["torch 2.11.0 -> 2.12.0"]
    assert image.changed(before, before) == []
    added = dataclasses.replace(before, pinned={**before.pinned, "nvidia-nccl-cu12": "2.27"})
    assert image.changed(before, added) == ["nvidia-nccl-cu12 2.27 added"]


def test_a_requirement_the_images_version_does_not_meet_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the install, a package the layer installed whose requirement the image's kept
    version misses (or that nothing provides) is named; the image's own packages are not
    checked."""
    layer = tmp_path / "layer"
    for name, version, requires in (
        ("trainer", "1.0", ["numpy>=9", "absent-thing", "numpy>=1", "tqdm ; extra == 'bar'"]),
    ):
        info = layer / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        lines = "".join(f"Requires-Dist: {line}\n" for line in requires)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{lines}"
        )
    image_site = fake_site(tmp_path / "image", "13.0")  # numpy 2.4.0
    monkeypatch.syspath_prepend(str(image_site))
    monkeypatch.syspath_prepend(str(layer))
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(layer))
    image.unmet_requirements()
    assert json.loads(capsys.readouterr().out) == [
        "trainer needs absent-thing, which is missing",
        "trainer needs numpy>=9, the image has 2.4.0",
    ]


def test_the_image_is_read_without_the_folder_mlci_is_installed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlci installed as a uv tool sits among nox, packaging and the rest: none of them is the
    image's, so none may be left out of the layer's install."""
    from tests.integ.test_image_mode import base_image

    tool_site = tmp_path / "tool-site"
    shutil.copytree(Path(image.__file__).resolve().parents[1], tool_site / "mlci")
    info = tool_site / "nox-2026.1.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nox\nVersion: 2026.1.1\n")
    monkeypatch.setattr(image, "__file__", str(tool_site / "mlci" / "envs" / "image.py"))
    found = image.inspect(base_image(tmp_path / "image"))
    assert "torch" in found.installed and "nox" not in found.installed


def test_what_the_install_brings_itself_is_never_left_out(tmp_path: Path) -> None:
    """An image built with the project installed (`pip install -e .`): the project's copy in
    the image must not stand in for the one under test."""
    found = image.inspect(fake_python(tmp_path, fake_site(tmp_path, "13.0")))
    with_project = dataclasses.replace(found, installed={**found.installed, "my-model": "0.1"})
    text = with_project.overrides(tmp_path / "cache", (), own=("mlci", "my_model")).read_text()
    assert "my-model ;" not in text and "mlci ;" not in text
    assert 'torch ; python_version < "0"' in text
