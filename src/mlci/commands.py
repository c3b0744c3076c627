"""What each session installs and runs, as data: used by the nox sessions and `mlci sessions`.

Nothing here imports nox, so `mlci` commands stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci.settings import ConfigError, Settings

# Tools each session installs next to the project (lower bounds only: a project may pin them).
PYTEST = ("pytest>=8",)
TOOLS: dict[str, tuple[str, ...]] = {
    # pre-commit-uv: hook environments built by uv, not virtualenv + pip.
    "lint": ("pre-commit>=3.7", "pre-commit-uv>=4.1", "pylint>=3.2"),
    "mypy": ("mypy>=1.10", *PYTEST),
    "unit": (*PYTEST, "pytest-cov>=6"),
    "integ": PYTEST,
    "nbmake": (*PYTEST, "nbmake>=1.5", "ipykernel>=6"),
    "gpu": PYTEST,
}
XDIST = "pytest-xdist>=3.6"
TESTMON = "pytest-testmon>=2.1"

NOT_INTEG_OR_GPU = "not integ and not gpu"


@dataclass(frozen=True)
class SessionSpec:
    """One nox session as mlci registers it."""

    name: str
    pythons: tuple[str, ...]
    default: bool
    torch_backend: str
    summary: str

    def nox_names(self) -> tuple[str, ...]:
        if len(self.pythons) > 1 or self.name == "unit":
            return tuple(f"{self.name}-{python}" for python in self.pythons)
        return (self.name,)


def specs(settings: Settings) -> list[SessionSpec]:
    """The sessions a project gets, in the order nox runs them."""
    enabled = settings.items("sessions")
    main = (settings.main_python,)
    backend = settings.text("torch-backend")
    gpu_backend = settings.items("gpu-backends")[0]
    coverage = settings.number("coverage-fail-under")
    all_specs = {
        "lint": SessionSpec("lint", main, True, backend, "pre-commit on all files, then pylint"),
        "mypy": SessionSpec("mypy", main, True, backend, "mypy on the package and its tests"),
        "unit": SessionSpec(
            "unit",
            settings.python_versions,
            True,
            backend,
            "pytest (not integ/gpu)"
            + (", testmon" if settings.flag("testmon") else f", coverage >= {coverage:g}%"),
        ),
        "integ": SessionSpec("integ", main, True, backend, "pytest -m integ"),
        "nbmake": SessionSpec("nbmake", main, True, backend, "every notebook, executed"),
        "gpu": SessionSpec("gpu", main, False, gpu_backend, "pytest -m gpu on a CUDA device"),
    }
    return [spec for name, spec in all_specs.items() if name in enabled]


def tools(settings: Settings, session: str) -> tuple[str, ...]:
    extra: tuple[str, ...] = ()
    if session == "unit":
        if settings.flag("testmon"):
            extra = (TESTMON,)
        elif settings.text("xdist-workers") != "0":
            extra = (XDIST,)
    return TOOLS[session] + extra


def package_dir(settings: Settings) -> Path:
    """The package's source folder, relative to the project root (src layout or flat)."""
    for candidate in (Path("src") / settings.package, Path(settings.package)):
        if (settings.root / candidate).is_dir():
            return candidate
    raise ConfigError(
        f"package {settings.package!r} not found as src/{settings.package} or"
        f" {settings.package} in {settings.root} (set [tool.mlci] package)"
    )


def _tests_dir(settings: Settings) -> list[str]:
    tests = settings.text("tests-dir")
    return [tests] if (settings.root / tests).is_dir() else []


def commands(
    settings: Settings,
    session: str,
    reports: Path,
    posargs: list[str],
    lint_scope: tuple[str, ...] = ("--all-files",),
) -> list[list[str]]:
    """The command lines a session runs, with the user's posargs passed to its main tool.

    lint_scope: what pre-commit checks (`--all-files`, or `--files ...` for a project that is a
    folder of a larger git repository).
    """
    junit = f"--junitxml={reports / 'junit.xml'}"
    if session == "lint":
        return [
            # posargs first: `--files` takes every argument after it.
            ["pre-commit", "run", *posargs, "--show-diff-on-failure", *lint_scope],
            [
                "pylint",
                f"--output-format=colorized,text:{reports / 'pylint.txt'}",
                str(package_dir(settings)),
            ],
        ]
    if session == "mypy":
        targets = [str(package_dir(settings)), *_tests_dir(settings)]
        return [["mypy", *targets, "--junit-xml", str(reports / "junit.xml"), *posargs]]
    if session == "unit":
        args = ["pytest", *_tests_dir(settings), "-m", NOT_INTEG_OR_GPU, junit]
        if settings.flag("testmon"):
            # forceselect: testmon turns selection off when -m is given, unless told otherwise.
            # One record per session: unit-3.11 and unit-3.12 each know what they ran.
            args += ["--testmon", "--testmon-forceselect", f"--testmon-env={reports.name}"]
        else:
            args += [
                f"--cov={settings.package}",
                f"--cov-report=xml:{reports / 'coverage.xml'}",
                "--cov-report=term-missing:skip-covered",
                f"--cov-fail-under={settings.number('coverage-fail-under'):g}",
            ]
            if settings.text("xdist-workers") != "0":
                args += ["-n", settings.text("xdist-workers")]
        return [[*args, *posargs]]
    if session == "integ":
        return [["pytest", *_tests_dir(settings), "-m", "integ", junit, *posargs]]
    if session == "nbmake":
        return [
            [
                "pytest",
                "--nbmake",
                f"--nbmake-timeout={settings['notebook-timeout']}",
                "-p",
                "no:cacheprovider",
                junit,
                *notebooks(settings),
                *posargs,
            ]
        ]
    if session == "gpu":
        return [
            ["mlci", "doctor", "--require-gpu"],
            ["pytest", *_tests_dir(settings), "-m", "gpu", "--run-gpu", junit, *posargs],
        ]
    raise ValueError(f"unknown session {session!r}")


def notebooks(settings: Settings) -> list[str]:
    """Every notebook under the configured folder, relative to the project root."""
    folder = settings.path("notebooks")
    found = sorted(
        str(path.relative_to(settings.root))
        for path in folder.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    )
    if not found:
        raise ConfigError(f"nbmake: no notebooks under {folder} (set [tool.mlci] notebooks)")
    return found
