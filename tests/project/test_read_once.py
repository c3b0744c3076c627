"""A command reads pyproject.toml once: every later step reads the `Project` snapshot.

Counted with an audit hook (PEP 578) on every `open` of the file, in a fresh interpreter, so
that any reader counts, whichever module and whichever function it uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import WriteProject

COUNT_OPENS = """
import json, sys
from pathlib import Path

target = str(Path(sys.argv[1]).resolve() / "pyproject.toml")
opens = []
def hook(event, args):
    if event == "open" and args and str(args[0]) == target:
        opens.append(event)
sys.addaudithook(hook)

kind = sys.argv[2]
if kind == "read twice":  # what a module reading the file for itself would add
    from mlci.project.files import read_pyproject
    read_pyproject(Path(sys.argv[1]))
    read_pyproject(Path(sys.argv[1]).resolve())
elif kind == "nox":
    from mlci.session import nox_sessions
    nox_sessions.sessions(sys.argv[1])
else:
    from mlci.cli import main
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        main(sys.argv[3:])
print(json.dumps(len(opens)), file=sys.stderr)
"""


def opens_of(root: Path, kind: str, *args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", COUNT_OPENS, str(root), kind, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
        env={"PATH": "", "MLCI_TORCH_INDEX": ""},
    )
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.fixture
def sample(write_project: WriteProject) -> Path:
    root = write_project("python-versions = ['3.11', '3.12']\nunit-shards = 2\n")
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    (root / "setup.cfg").write_text("[tool:pytest]\naddopts = -ra\n")
    return root


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("cli", ("sessions", "--json")),
        ("cli", ("plan", "--format", "json")),
        ("nox", ()),
    ],
    ids=["mlci sessions", "mlci plan", "nox registration"],
)
def test_pyproject_is_read_once_per_command(sample: Path, kind: str, args: tuple[str, ...]) -> None:
    assert opens_of(sample, kind, *args) == 1


def test_the_count_sees_every_reader(sample: Path) -> None:
    """The hook counts every reader of the file, whichever module calls it."""
    assert opens_of(sample, "read twice") == 2
