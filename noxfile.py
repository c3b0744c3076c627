"""The kit's own sessions, built with mlci itself, plus `sample`: the kit's main job.

nox                 lint, mypy, unit tests on Python 3.10-3.13, integration tests
nox -s sample       the sample project's full pipeline (examples/sample-model)
nox -s bench        the benchmarks (benchmarks/bench.py; arguments after --)
"""

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
# The kit checks itself with the code in this tree, not with an installed release.
sys.path.insert(0, str(ROOT / "src"))

import mlci  # noqa: E402

nox.needs_version = ">=2025.5.1"
mlci.sessions()

SAMPLE = ROOT / "examples" / "sample-model"


@nox.session(venv_backend="uv", default=False)
def sample(session: nox.Session) -> None:
    """Run the sample project's pipeline with this mlci (nox args after --, e.g. -- -s unit)."""
    session.install("-e", str(ROOT))
    session.run("nox", "--noxfile", str(SAMPLE / "noxfile.py"), *session.posargs)


@nox.session(venv_backend="uv", default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: mlci against a plain pip setup, in one run (args after --, e.g. --quick)."""
    session.install("-e", str(ROOT))
    session.run("python", str(ROOT / "benchmarks" / "bench.py"), *session.posargs)
