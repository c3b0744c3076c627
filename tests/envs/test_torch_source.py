from __future__ import annotations

from pathlib import Path

import pytest

from mlci.envs import torch_source
from mlci.errors import ConfigError


def make_wheels(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not really a wheel")
    return folder


def test_backend_maps_to_pytorch_index(tmp_path: Path) -> None:
    source = torch_source.resolve("cu128", "", tmp_path)
    assert source is not None
    assert source.index_url == "https://download.pytorch.org/whl/cu128"
    assert source.constraints is None  # CUDA sessions may install CUDA packages
    assert source.install_args() == ["-r", str(source.requirements)]
    routing = source.requirements.read_text()
    # Explicit: the index serves torch only, never numpy & co (uv takes a package from the
    # first index that lists it, and PyTorch's index lists many).
    assert 'url = "https://download.pytorch.org/whl/cu128"\nexplicit = true' in routing
    assert 'torch = { index = "mlci-torch" }' in routing
    assert 'dependencies = ["torch"]' in routing


def test_torchvision_and_torchaudio_come_from_the_same_index(tmp_path: Path) -> None:
    source = torch_source.resolve("cpu", "", tmp_path, family=("torch", "torchvision"))
    assert source is not None
    routing = source.requirements.read_text()
    assert 'dependencies = ["torch", "torchvision"]' in routing
    assert 'torchvision = { index = "mlci-torch" }' in routing


def test_no_torch_for_backend_none(tmp_path: Path) -> None:
    assert torch_source.resolve("none", "/anything", tmp_path) is None


def test_cpu_sessions_forbid_cuda_packages(tmp_path: Path) -> None:
    source = torch_source.resolve("cpu", "", tmp_path)
    assert source is not None and source.constraints is not None
    lines = source.constraints.read_text().splitlines()
    forbidden = {line.split("==")[0] for line in lines if "==" in line}
    assert {"nvidia-cudnn-cu12", "nvidia-cudnn-cu13", "cuda-toolkit", "triton"} <= forbidden
    assert all(line.endswith("==" + torch_source.IMPOSSIBLE_VERSION) for line in lines[1:])
    assert source.install_args()[-2:] == ["--constraint", str(source.constraints)]


def test_mirror_url_is_used_as_given(tmp_path: Path) -> None:
    source = torch_source.resolve("cpu", "https://mirror.example/torch-cpu/simple", tmp_path)
    assert source is not None
    assert source.index_url == "https://mirror.example/torch-cpu/simple"
    assert source.origin == "torch-index (URL)"
    assert source.environment() == {}


def test_credentials_leave_the_url_for_uvs_variables(tmp_path: Path) -> None:
    url = "https://ci%40corp:p%3Ass@mirror.example/simple"
    source = torch_source.resolve("cpu", url, tmp_path)
    assert source is not None
    assert source.index_url == "https://mirror.example/simple"
    assert source.shown == "https://mirror.example/simple (with credentials)"
    assert source.environment() == {
        "UV_INDEX_MLCI_TORCH_USERNAME": "ci@corp",
        "UV_INDEX_MLCI_TORCH_PASSWORD": "p:ss",
    }
    assert "p%3Ass" not in source.requirements.read_text()


def test_plain_http_is_refused_unless_allowed(tmp_path: Path) -> None:
    url = "http://user:secret@mirror.internal/simple"
    with pytest.raises(ConfigError) as err:
        torch_source.resolve("cpu", url, tmp_path)
    assert str(err.value).startswith("torch-index: http://***@mirror.internal/simple is plain http")
    assert "secret" not in str(err.value)
    allowed = torch_source.resolve("cpu", url, tmp_path, allow_insecure=True)
    assert allowed is not None and allowed.index_url == "http://mirror.internal/simple"


def fake_torch(site: Path, cuda: str | None) -> Path:
    """A torch distribution with only torch/version.py, as a build writes it."""
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "version.py").write_text(
        "from typing import Optional\n__version__ = '2.13.0'\ndebug = False\n"
        f"cuda: Optional[str] = {cuda!r}\nhip: Optional[str] = None\n"
    )
    info = site / "torch-2.13.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0\n")
    (info / "RECORD").write_text("")
    return site


@pytest.mark.parametrize(("cuda", "problem"), [(None, ""), ("12.6", "is a CUDA 12.6 build")])
def test_the_cpu_check_reads_torchs_own_build(
    tmp_path: Path, cuda: str | None, problem: str
) -> None:
    """A +cuXXX torch without separate nvidia-* packages is caught by torch.version.cuda."""
    import subprocess
    import sys

    site = fake_torch(tmp_path / "site", cuda)
    code = f"import sys; sys.path[:0] = [{str(site)!r}]; exec({torch_source.CPU_ONLY_CHECK!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode != 0) is bool(problem)
    assert problem in done.stderr


def test_folder_of_wheels_becomes_an_index(tmp_path: Path) -> None:
    wheels = make_wheels(
        tmp_path / "wheels",
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
        "torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
        "Pillow_SIMD-9.0.0-cp311-cp311-linux_x86_64.whl",
        "notes.txt",
    )
    source = torch_source.resolve("cpu", str(wheels), tmp_path / "cache")
    assert source is not None and source.index_url.startswith("file://")
    index = Path(source.index_url.removeprefix("file://"))
    # Only torch's family is ever taken from it (tests/test_uv_sources.py says why).
    assert sorted(p.name for p in index.iterdir()) == ["torch"]
    page = (index / "torch" / "index.html").read_text()
    # '+' in a local version must be escaped in the link, or uv cannot fetch the file
    assert "torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl" in page
    assert "torch-2.12.0%2Bcpu" in page
    again = torch_source.resolve("cpu", str(wheels), tmp_path / "cache")
    assert again is not None and again.index_url == source.index_url


def test_folder_that_already_is_an_index_is_used_directly(tmp_path: Path) -> None:
    (tmp_path / "simple" / "torch").mkdir(parents=True)
    (tmp_path / "simple" / "torch" / "index.html").write_text("<a href='x.whl'>x</a>")
    source = torch_source.resolve("cpu", str(tmp_path / "simple"), tmp_path / "cache")
    assert source is not None
    assert source.index_url == (tmp_path / "simple").resolve().as_uri()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("{tmp}/missing", "is neither a URL nor an existing folder"),
        ("{tmp}/empty", "no torch wheel in"),
        (
            "file://{tmp}/index",
            "has no torch/ project page (it looks one level too high: add /simple)",
        ),
        ("file://{tmp}/empty", "has no torch/ project page"),
    ],
)
def test_bad_overrides_fail_loudly(tmp_path: Path, override: str, message: str) -> None:
    make_wheels(tmp_path / "empty", "numpy-2.0.0-cp311-cp311-linux_x86_64.whl")
    (tmp_path / "index" / "simple" / "torch").mkdir(parents=True)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        torch_source.resolve("cpu", override.format(tmp=tmp_path), tmp_path / "cache")


def test_cache_dir_is_one_place_for_every_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLCI_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert torch_source.mlci_cache() == tmp_path / "xdg" / "mlci"
    monkeypatch.setenv("MLCI_CACHE_DIR", str(tmp_path / "explicit"))
    assert torch_source.mlci_cache() == tmp_path / "explicit"


def test_the_cpu_check_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """cpu_only_problem over this process's distributions, with made-up ones."""
    import importlib.metadata as md

    site = fake_torch(tmp_path / "site", "12.6")
    cuda_torch = md.PathDistribution(next(site.glob("torch-*.dist-info")))
    monkeypatch.setattr(md, "distributions", lambda: [cuda_torch])
    monkeypatch.setattr(md, "distribution", lambda name: cuda_torch)
    assert torch_source.cpu_only_problem() == (
        "mlci: torch 2.13.0 is a CUDA 12.6 build in a CPU session"
    )
    (site / "nvidia_cublas-12.6.dist-info").mkdir()
    (site / "nvidia_cublas-12.6.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nvidia-cublas\nVersion: 12.6\n"
    )
    nvidia = md.PathDistribution(site / "nvidia_cublas-12.6.dist-info")
    monkeypatch.setattr(md, "distributions", lambda: [cuda_torch, nvidia])
    assert torch_source.cpu_only_problem() == "mlci: CUDA packages in a CPU session: nvidia-cublas"


def test_the_cpu_check_passes_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    def missing(name: str) -> md.Distribution:
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distributions", lambda: [])
    monkeypatch.setattr(md, "distribution", missing)
    assert torch_source.cpu_only_problem() is None


def test_a_folder_without_a_wheel_of_the_family_the_project_asks_for_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv would say "torchvision was not found in the package registry", naming no folder."""
    from mlci.envs import uv_cache

    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    uv_cache.folder.cache_clear()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    try:
        with pytest.raises(ConfigError) as err:
            torch_source.resolve("cpu", str(wheels), tmp_path, family=("torch", "torchvision"))
        assert str(err.value) == (
            f"torch-index: {wheels} has no torchvision wheel, which the project asks for"
            " (torch's family all comes from torch-index): add its wheel to the folder, or point"
            " torch-index at an index that has it"
        )
        assert torch_source.resolve("cpu", str(wheels), tmp_path, family=("torch",)) is not None
    finally:
        uv_cache.folder.cache_clear()
