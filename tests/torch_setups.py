"""Projects that set torch up as uv's PyTorch integration guide writes them, for the tests of
how mlci installs them (tests/test_uv_sources.py, tests/integ/test_torch_setups.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

PYTORCH = "https://download.pytorch.org/whl"

# One explicit CUDA index, used on Linux only.
MARKER = f"""
[tool.uv.sources]
torch = [{{ index = "pytorch-cu128", marker = "sys_platform == 'linux'" }}]

[[tool.uv.index]]
name = "pytorch-cu128"
url = "{PYTORCH}/cu128"
explicit = true
"""

# One explicit index, for every platform.
PLAIN = f"""
[tool.uv.sources]
torch = [{{ index = "pytorch-cpu" }}]

[[tool.uv.index]]
name = "pytorch-cpu"
url = "{PYTORCH}/cpu"
explicit = true
"""

# A CPU and a CUDA extra, one index each, which cannot be installed together.
EXTRAS = f"""
[project.optional-dependencies]
cpu = ["torch>=2.4"]
cu124 = ["torch>=2.4"]

[tool.uv]
conflicts = [[{{ extra = "cpu" }}, {{ extra = "cu124" }}]]

[tool.uv.sources]
torch = [
  {{ index = "pytorch-cpu", extra = "cpu" }},
  {{ index = "pytorch-cu124", extra = "cu124" }},
]

[[tool.uv.index]]
name = "pytorch-cpu"
url = "{PYTORCH}/cpu"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu124"
url = "{PYTORCH}/cu124"
explicit = true
"""

FORMS = {"marker": MARKER, "plain": PLAIN, "extras": EXTRAS}
# The indexes each form names for torch, and their URLs.
INDEXES = {
    "marker": {"pytorch-cu128": f"{PYTORCH}/cu128"},
    "plain": {"pytorch-cpu": f"{PYTORCH}/cpu"},
    "extras": {"pytorch-cpu": f"{PYTORCH}/cpu", "pytorch-cu124": f"{PYTORCH}/cu124"},
}


def write_project(
    root: Path,
    form: str,
    *,
    dependencies: tuple[str, ...] = (),
    mlci: str = "",
    more: str = "",
) -> Path:
    """A package `guided` depending on torch (in the extras form: through its extras), set up
    as the guide says, with `more` TOML after it and `mlci` in its [tool.mlci]."""
    (root / "src" / "guided").mkdir(parents=True, exist_ok=True)
    (root / "src" / "guided" / "__init__.py").write_text('"""Guided."""\n')
    torch = [] if form == "extras" else ["torch>=2.4"]
    listed = ", ".join(f'"{name}"' for name in (*torch, *dependencies))
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'guided'\nversion = '0.1'\nrequires-python = '>=3.10'\n"
        f"dependencies = [{listed}]\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n"
        f"{FORMS[form]}{more}\n[tool.mlci]\n{mlci}"
    )
    return root


def fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel with no dependencies: enough for uv to resolve and install it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: mlci-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{name}/__init__.py": "",
    }
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
        wheel.writestr(f"{info}/RECORD", "".join(f"{m},,\n" for m in (*files, f"{info}/RECORD")))
    return path


def stand_in_index(folder: Path, name: str, version: str) -> str:
    """A one-package PEP 503 index holding a fake wheel: a stand-in for the PyTorch index,
    which these machines cannot reach. Returns its URL."""
    wheel = fake_wheel(folder / name, name, version)
    href = wheel.name.replace("+", "%2B")
    (folder / name / "index.html").write_text(f'<a href="{href}">{wheel.name}</a>\n')
    return folder.resolve().as_uri()


def as_the_guide_writes_it(sample: Path) -> None:
    """The sample project with torch from its own explicit CUDA index on Linux, as the guide
    writes it. Its lock cannot be made again for that index offline, so it is resolved afresh."""
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + MARKER)
    (sample / "uv.lock").unlink()
