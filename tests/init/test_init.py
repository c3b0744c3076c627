"""`mlci init` without running anything: what it finds, what it writes, and what it refuses."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config.settings import resolve
from mlci.errors import ConfigError
from mlci.init import propose as init
from mlci.project.discover import inspect
from mlci.project.snapshot import Project

ROOT = Path(__file__).resolve().parents[2]


def pyproject_src(root: Path) -> Path:
    """(a) pyproject + src layout, untyped, no pre-commit, no integ tests, no notebooks."""
    (root / "src" / "tiny_model").mkdir(parents=True)
    (root / "src" / "tiny_model" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_double.py").write_text(
        "from tiny_model import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
    )
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'tiny-model'\nversion = '0.1'\nrequires-python = '>=3.10'\n"
        "dependencies = ['torch>=2.4']\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.rye]\ndev-dependencies = ['pytest>=8', 'einops>=0.8']\n"
    )
    return root


def setup_py_flat(root: Path) -> Path:
    """(b) setup.py + requirements.txt, flat layout, no pyproject.toml."""
    (root / "flatpkg").mkdir(parents=True)
    (root / "flatpkg" / "__init__.py").write_text('"""Flat."""\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_flat.py").write_text("import flatpkg\n\n\ndef test():\n    pass\n")
    (root / "setup.py").write_text(
        "from setuptools import setup\n\n"
        "setup(name='flat-pkg', packages=['flatpkg'], python_requires='>=3.10')\n"
    )
    (root / "requirements.txt").write_text("packaging>=24\n")
    (root / "requirements-docs.txt").write_text("mkdocs\n")  # not a test requirement
    return root


def test_what_init_finds_in_a_pyproject_src_project(tmp_path: Path) -> None:
    found = inspect(Project.load(pyproject_src(tmp_path), required=False))
    assert (found.built_with, found.name, found.package, found.layout) == (
        "pyproject.toml [project]",
        "tiny-model",
        "tiny_model",
        "src",
    )
    assert found.uses_torch and found.requires_python == ">=3.10"
    assert found.tests_dir == "tests" and found.markers == set()
    assert found.dev_dependencies == ["pytest>=8", "einops>=0.8"]
    assert found.dev_dependencies_from == "[tool.rye] dev-dependencies"


def test_what_init_finds_in_a_setup_py_project(tmp_path: Path) -> None:
    found = inspect(Project.load(setup_py_flat(tmp_path), required=False))
    assert (found.built_with, found.name, found.package, found.layout) == (
        "setup.py",
        "flat-pkg",
        "flatpkg",
        "flat",
    )
    assert found.requirements == ["requirements.txt"] and not found.uses_torch


def test_markers_and_notebooks_are_found(tmp_path: Path) -> None:
    root = pyproject_src(tmp_path)
    (root / "tests" / "test_more.py").write_text(
        "import pytest\n\n@pytest.mark.integ\ndef test_i(): ...\n\n"
        "@pytest.mark.gpu(devices=2)\ndef test_g(): ...\n"
    )
    (root / "examples").mkdir()
    (root / "examples" / "train.ipynb").write_text("{}")
    found = inspect(Project.load(root, required=False))
    assert found.markers == {"integ", "gpu"}
    assert found.notebooks == "examples"


def test_init_proposes_the_projects_own_integ_and_gpu_markers(tmp_path: Path) -> None:
    """Tests marked `integration` and `cuda` (registered in pytest's config): init sets
    integ-marker and gpu-marker, so the integ session is on and unit leaves them out."""
    root = pyproject_src(tmp_path)
    (root / "tests" / "test_more.py").write_text(
        "import pytest\n\n@pytest.mark.integration\ndef test_i(): ...\n\n"
        "@pytest.mark.cuda\ndef test_g(): ...\n\n@pytest.mark.slow\ndef test_s(): ...\n"
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + "\n[tool.pytest.ini_options]\nmarkers = ['integration: needs the network',"
        " 'slow: minutes']\n"
    )
    proposal = init.propose(root)
    assert proposal.table["integ-marker"] == "integration"
    assert proposal.table["gpu-marker"] == "cuda"
    assert "integ" in proposal.table["sessions"]
    rows = {row.what: (row.value, row.why) for row in proposal.rows}
    assert rows["integ-marker"] == (
        "integration",
        "@pytest.mark.integration in tests/, registered in"
        " pyproject.toml [tool.pytest.ini_options]",
    )
    assert rows["gpu-marker"] == ("cuda", "@pytest.mark.cuda in tests/")
    assert rows["other markers"][0] == "slow"
    # mlci's own names in use: nothing to set.
    (root / "tests" / "test_more.py").write_text(
        "import pytest\n\n@pytest.mark.integ\ndef test_i(): ...\n"
    )
    assert "integ-marker" not in init.propose(root).table


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"README.md": "hi"}, r"has no pyproject.toml \[project\], setup.py, setup.cfg"),
        ({"setup.py": "from setuptools import setup\nsetup(name='x')\n"}, "no package found in"),
    ],
    ids=["not a python project", "no package"],
)
def test_an_unknown_layout_says_what_it_looked_for(
    tmp_path: Path, files: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        inspect(Project.load(tmp_path, required=False))
    assert main(["init", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlci: error: ") and "Traceback" not in err


def test_dry_run_shows_the_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path)
    before = sorted(p.name for p in root.iterdir())
    text = (root / "pyproject.toml").read_text()
    assert main(["init", "--project", str(root), "--dry-run", "--github"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in root.iterdir()) == before
    assert (root / "pyproject.toml").read_text() == text
    assert "+[tool.mlci]" in out and '+package = "tiny_model"' in out
    assert "+++ b/noxfile.py" in out and "+++ b/.github/workflows/ci.yml" in out
    assert re.search(r"session integ +off +no test under tests/ is marked integ", out)


def test_init_writes_what_fits_and_twice_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path)
    assert main(["init", "--project", str(root)]) == 0
    capsys.readouterr()
    text = (root / "pyproject.toml").read_text()
    assert text.startswith("[project]\nname = 'tiny-model'")  # the user's lines, as they were
    settings = resolve(root, environ={})
    assert settings.package == "tiny_model"
    assert settings.sessions == ("lint", "mypy", "unit")  # only what has something to check
    assert settings.dependency_groups == ("dev",)  # rye's test dependencies, now a PEP 735 group
    assert '[dependency-groups]\ndev = ["pytest>=8", "einops>=0.8"]' in text
    assert (root / "noxfile.py").read_text() == init.NOXFILE

    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert main(["init", "--project", str(root)]) == 0
    assert "mlci init: nothing to change" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files


def test_files_that_differ_are_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path)
    (root / "noxfile.py").write_text("# my own noxfile\n")
    path = root / "pyproject.toml"
    path.write_text(path.read_text() + "\n[tool.mlci]\nsessions = ['unit']\n")
    assert main(["init", "--project", str(root)]) == 0
    out = capsys.readouterr().out
    assert (root / "noxfile.py").read_text() == "# my own noxfile\n"
    assert "noxfile.py" in out and "kept (it differs); --force replaces it" in out
    assert "sessions = ['unit']" in path.read_text()
    assert main(["init", "--project", str(root), "--force"]) == 0
    assert (root / "noxfile.py").read_text() == init.NOXFILE
    assert resolve(root, environ={}).sessions == ("lint", "mypy", "unit")


def test_a_setup_py_project_gets_a_pyproject_with_only_mlcis_table(tmp_path: Path) -> None:
    root = setup_py_flat(tmp_path)
    assert main(["init", "--project", str(root)]) == 0
    settings = resolve(root, environ={})
    assert (settings.package, settings.torch_backend) == ("flatpkg", "none")
    assert settings.requirements == ("requirements.txt",)
    assert set(settings.sources) and "[project]" not in (root / "pyproject.toml").read_text()


def test_the_ci_callers_it_writes_are_valid(tmp_path: Path) -> None:
    root = pyproject_src(tmp_path)
    assert main(["init", "--project", str(root), "--github", "--gitlab", "--pre-commit"]) == 0
    caller = root / ".github" / "workflows" / "ci.yml"
    assert "uses: acme/mlci/.github/workflows/test.yml@v" in caller.read_text()
    checker = shutil.which("check-jsonschema")
    assert checker
    done = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(caller)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    import yaml

    gitlab = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    [main_include, mr] = gitlab["include"]
    assert main_include["file"] == "ci-templates/gitlab/mlci.yml"
    # GitLab makes one job per session before reading pyproject.toml: the sessions are listed.
    assert main_include["inputs"]["sessions"] == ["lint", "mypy", "unit"]
    assert mr["file"] == "ci-templates/gitlab/merge-request-pipelines.yml"
    hooks = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    assert [hook["id"] for hook in hooks["repos"][0]["hooks"]] == ["ruff-check", "ruff-format"]
    assert json.dumps(hooks).count(init.RUFF) == 2


def test_python_versions_follow_requires_python_and_the_wheels_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pyproject_src(tmp_path)
    path = root / "pyproject.toml"
    path.write_text(path.read_text().replace(">=3.10", ">=3.12"))
    monkeypatch.setattr(init, "_pythons_here", lambda candidates: candidates)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl").write_text("")
    monkeypatch.setenv("MLCI_TORCH_INDEX", str(wheels))
    proposal = init.propose(root)
    assert proposal.table["python-versions"] == ["3.12"]
    monkeypatch.delenv("MLCI_TORCH_INDEX")
    proposal = init.propose(root)
    assert proposal.table["python-versions"][0] == "3.12"
    assert "3.11" not in proposal.table["python-versions"]


# --- init --measure, against a stand-in noxfile: real nox, no environments ---------------------

FAKE_NOXFILE = '''"""Stand-ins for mlci's sessions: each does what fake-sessions.json says."""

import json
import pathlib

import nox

HERE = pathlib.Path(__file__).parent
for name, step in json.loads((HERE / "fake-sessions.json").read_text()).items():

    def run(session, step=step):
        for path, text in step.get("files", {}).items():
            (HERE / path).parent.mkdir(parents=True, exist_ok=True)
            (HERE / path).write_text(text)
        print(step.get("log", "FAKE-SESSION-LOG-LINE"))
        if "abort" in step:
            session.error(step["abort"])
        if "program" in step:
            session.run(step["program"], external=True)

    nox.session(name=name, venv_backend="none")(run)
'''
PYLINT_JSON = '{"messages": [], "statistics": {"score": 8.57}}'
COVERAGE_XML = '<coverage lines-valid="3" lines-covered="2" branches-valid="0"></coverage>'
TOOL_TABLE = (
    "\n[tool.mlci]\n# my own settings, by hand\npython-versions = ['3.11']\n"
    'tests-dir = "tests"\nrequirements = ["requirements-dev.txt"]\n'
    "test-timeout = 300  # the GPU box is slow\n"
)


def fake_sessions(root: Path, steps: dict[str, dict[str, object]]) -> None:
    """A noxfile of our own (init keeps it: it differs) whose sessions do what `steps` say; a
    step's `tool` runs as a program of that name that prints `says` and exits `exit`."""
    (root / "noxfile.py").write_text(FAKE_NOXFILE)
    tools = root.parent / "fake-tools"
    tools.mkdir(exist_ok=True)
    for step in steps.values():
        if "tool" in step:
            program = tools / str(step["tool"])
            program.write_text(f"#!/bin/sh\necho '{step.get('says', '')}'\nexit {step['exit']}\n")
            program.chmod(0o755)
            step["program"] = str(program)
    (root / "fake-sessions.json").write_text(json.dumps(steps))


def measured_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pyproject_src with a [tool.mlci] written by hand (a key init never writes, comments)."""
    pyproject_src(root)
    monkeypatch.setattr(init, "_pythons_here", lambda candidates: ["3.11"])
    (root / "requirements-dev.txt").write_text("pytest\n")
    path = root / "pyproject.toml"
    rye = "[tool.rye]\ndev-dependencies = ['pytest>=8', 'einops>=0.8']\n"
    path.write_text(path.read_text().replace(rye, "[tool.ruff]\nline-length = 99\n") + TOOL_TABLE)
    return root


GREEN_TODAY: dict[str, dict[str, object]] = {
    "lint": {"files": {"mlci-reports/lint/pylint.json": PYLINT_JSON}, "tool": "pylint", "exit": 16},
    "mypy": {},
    "unit-3.11": {
        "files": {"mlci-reports/unit-3.11/coverage.xml": COVERAGE_XML},
        "abort": "unit: coverage 66.67% is under coverage-fail-under 80%",
    },
}


def test_measure_changes_only_the_keys_it_measured_and_twice_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = measured_project(tmp_path / "project", monkeypatch)
    fake_sessions(root, GREEN_TODAY)
    before = (root / "pyproject.toml").read_text()
    assert main(["init", "--project", str(root), "--measure"]) == 0
    out = capsys.readouterr().out
    after = (root / "pyproject.toml").read_text()
    # The user's table, every line and comment as it was, and the two keys measured after it;
    # coverage 66.67% less coverage-margin's 1 point, rounded down.
    assert after == before + "pylint-fail-under = 8.5\ncoverage-fail-under = 65\n"
    assert "+pylint-fail-under = 8.5\n+coverage-fail-under = 65" in out  # the diff is shown
    assert re.search(r"lint +green", out) and re.search(r"unit-3.11 +green", out)
    assert main(["init", "--project", str(root), "--measure"]) == 0
    assert "mlci init: measured: nothing to change" in capsys.readouterr().out
    assert (root / "pyproject.toml").read_text() == after


@pytest.mark.parametrize("pytest_exit", [1, 2], ids=["a failing test", "a collection error"])
def test_a_red_unit_run_records_no_coverage_floor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pytest_exit: int,
) -> None:
    """Its coverage is not the suite's: a run that stopped at collection recorded a floor of 6
    on a real project; one with failing tests, a floor the fixed suite no longer reaches."""
    root = measured_project(tmp_path / "project", monkeypatch)
    red = {
        "files": {"mlci-reports/unit-3.11/coverage.xml": COVERAGE_XML},
        "tool": "pytest",
        "exit": pytest_exit,
    }
    fake_sessions(root, {**GREEN_TODAY, "unit-3.11": red})
    before = (root / "pyproject.toml").read_text()
    assert main(["init", "--project", str(root), "--measure"]) == 1
    out = capsys.readouterr().out
    assert "coverage-fail-under" not in (root / "pyproject.toml").read_text().replace(before, "")
    assert re.search(r"coverage-fail-under +\(unchanged\) +not measured: no unit session", out)


def test_a_unit_run_red_for_a_module_the_project_never_declares_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """torchcde's tests import `signatory`, which it never declares: say so, not a count."""
    root = measured_project(tmp_path / "project", monkeypatch)
    junit = (
        '<testsuites><testsuite tests="3" failures="2"><testcase name="a"><failure message="x">'
        "ModuleNotFoundError: No module named 'signatory'</failure></testcase>"
        '<testcase name="b"><failure message="ImportError: No module named \'signatory.x\'"/>'
        '</testcase><testcase name="c"/></testsuite></testsuites>'
    )
    red = {"files": {"mlci-reports/unit-3.11/junit.xml": junit}, "tool": "pytest", "exit": 1}
    fake_sessions(root, {**GREEN_TODAY, "unit-3.11": red})
    assert main(["init", "--project", str(root), "--measure"]) == 1
    out = capsys.readouterr().out
    assert "2 test(s) (they import what is not installed: signatory (2)) fail today" in out


def test_measure_prints_a_line_per_session_and_the_table_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = measured_project(tmp_path / "project", monkeypatch)
    fake_sessions(root, GREEN_TODAY)
    both = io.StringIO()  # stdout and stderr in the order they were written
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)
    assert main(["init", "--project", str(root), "--measure"]) == 0
    said = both.getvalue()
    assert said.index("session unit ") < said.index("mlci init: measuring lint, mypy, unit-3.11")
    progress = [line for line in said.splitlines() if line.startswith("mlci init: [")]
    assert [line.split(" ...")[0] for line in progress] == [
        "mlci init: [1/3] lint",
        "mlci init: [2/3] mypy",
        "mlci init: [3/3] unit-3.11",
    ]
    assert "FAKE-SESSION-LOG-LINE" not in said  # the sessions' own output: in the log
    assert "(nox's log: mlci-reports/mlci-init.log)" in said
    assert "FAKE-SESSION-LOG-LINE" in (root / "mlci-reports" / "mlci-init.log").read_text()


def test_measure_names_each_session_that_could_not_run_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = measured_project(tmp_path / "project", monkeypatch)
    plugin = 'pyproject.toml:1: error: Error importing plugin "nope": No module named nope'
    fake_sessions(
        root,
        {
            "lint": {"abort": "installing into py3.11-cpu failed: no version of pylint>=99"},
            "mypy": {"tool": "mypy", "says": plugin, "exit": 2},
            "unit-3.11": {},
        },
    )
    before = (root / "pyproject.toml").read_text()
    assert main(["init", "--project", str(root), "--measure"]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("mlci: error:")]
    assert errors == [
        "mlci: error: lint: installing into py3.11-cpu failed: no version of pylint>=99"
        " (nox's log: mlci-reports/mlci-init.log)",
        f"mlci: error: mypy: could not run: mypy exited 2: {plugin}"
        " (nox's log: mlci-reports/mlci-init.log)",
    ]
    assert re.search(r"mypy +red +could not run", captured.out)
    assert re.search(r"unit-3.11 +green +passed", captured.out)
    assert (root / "pyproject.toml").read_text() == before  # nothing measured, nothing changed
    assert not (root / "mypy-baseline.txt").exists()


def test_measure_runs_the_sessions_a_kept_table_chose_and_says_when_one_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = measured_project(tmp_path / "project", monkeypatch)
    path = root / "pyproject.toml"
    path.write_text(path.read_text() + "sessions = ['unit']\n")
    fake_sessions(root, {"unit-3.11": {}})  # a noxfile with unit-3.11 only
    assert main(["init", "--project", str(root), "--measure"]) == 0
    assert "mlci init: measuring unit-3.11 (" in capsys.readouterr().err
    fake_sessions(root, {"other": {}})  # a noxfile without it
    assert main(["init", "--project", str(root), "--measure"]) == 1
    err = capsys.readouterr().err
    assert "mlci: error: unit-3.11: did not run: Sessions not found: unit-3.11" in err


@pytest.mark.parametrize(
    ("link", "flags"),
    [("noxfile.py", []), (".pre-commit-config.yaml", ["--pre-commit"]), (".github", ["--github"])],
)
def test_a_link_that_leaves_the_project_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str, flags: list[str]
) -> None:
    root = pyproject_src(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if link == ".github":
        (elsewhere / link).mkdir()  # a folder of another repository
    (root / link).symlink_to(elsewhere / link)  # a file there: dangling, to be made there
    before = (root / "pyproject.toml").read_text()
    assert main(["init", "--project", str(root), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlci: error: {link} is a symbolic link to {elsewhere / link},")
    assert len(err.splitlines()) == 1
    assert [p.name for p in elsewhere.rglob("*")] == ([".github"] if link == ".github" else [])
    assert (root / "pyproject.toml").read_text() == before
    assert not (root / "noxfile.py").is_file()


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_github_caller_runs_on_the_default_branch_not_the_checked_out_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = pyproject_src(tmp_path / "project")
    git(root, "init", "-q", "-b", "wip")
    caller = root / ".github" / "workflows" / "ci.yml"
    for setup, branch, why in [
        ((), "main", "neither origin/HEAD nor git's init.defaultBranch is set"),
        (("config", "init.defaultBranch", "trunk"), "trunk", "git's init.defaultBranch"),
        (
            ("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop"),
            "develop",
            "the remote's default branch (origin/HEAD)",
        ),
    ]:
        if setup:
            git(root, *setup)
        assert main(["init", "--project", str(root), "--github", "--force"]) == 0
        assert f"    branches: [{branch}]\n" in caller.read_text()
        assert re.search(
            rf"ci.yml push branch +{branch} +{re.escape(why)}", capsys.readouterr().out
        )


def test_a_crlf_pyproject_keeps_its_line_endings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pyproject_src(tmp_path)
    path = root / "pyproject.toml"
    original = path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(original)
    assert main(["init", "--project", str(root)]) == 0
    text = path.read_bytes()
    assert text.startswith(original) and b"[tool.mlci]\r\n" in text
    assert text.count(b"\n") == text.count(b"\r\n")  # not one bare LF
    change = init.measured_change(root, {"coverage-fail-under": 66})
    assert '"unit"]\r\ncoverage-fail-under = 66\r\n' in change.new
    assert change.new.count("\n") == change.new.count("\r\n")


def test_bad_inputs_are_one_line_and_nothing_is_half_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path / "a")
    path = root / "pyproject.toml"
    before = path.read_text()
    path.write_text(before.replace("dependencies = ['torch>=2.4']", "dependencies = 5"))
    assert main(["init", "--project", str(root)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "mlci: error: pyproject.toml: [project] dependencies must be a list of strings"
        " (PEP 621), not 5\n"
    )
    path.write_text(before)
    (root / "noxfile.py").mkdir()  # after pyproject.toml, init would have written it
    assert main(["init", "--project", str(root)]) == 2
    assert capsys.readouterr().err.startswith("mlci: error: noxfile.py is a folder")
    assert path.read_text() == before
    (root / "noxfile.py").rmdir()
    (root / "noxfile.py").write_bytes(b"# \xff\xfe not UTF-8\n")  # somebody else's noxfile
    assert main(["init", "--project", str(root)]) == 0
    assert "noxfile.py" in capsys.readouterr().out
    assert (root / "noxfile.py").read_bytes() == b"# \xff\xfe not UTF-8\n"  # kept: it differs
    assert main(["init", "--project", str(root), "--force"]) == 0
    assert (root / "noxfile.py").read_text() == init.NOXFILE


def test_notebooks_are_found_where_they_are_and_the_folder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pyproject_src(tmp_path)
    monkeypatch.setattr(init, "_pythons_here", lambda candidates: ["3.11"])
    for name in (
        "examples/train.ipynb",
        "examples/tutorials/infer.ipynb",
        "docs/howto.ipynb",
        "examples/.ipynb_checkpoints/train-checkpoint.ipynb",
        ".venv/lib/site.ipynb",
        ".nox/env/x.ipynb",
        "node_modules/pkg/y.ipynb",
        ".github/z.ipynb",
        ".cache/a.ipynb",
        ".hidden/b.ipynb",
        ".more/c.ipynb",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    found = inspect(Project.load(root, required=False))
    assert found.notebooks == "examples"
    proposal = init.propose(root)
    assert proposal.table["notebooks"] == "examples"
    [row] = [row for row in proposal.rows if row.what == "session nbmake"]
    assert row.value == "on"
    assert row.why == (
        "2 notebook(s) under examples/; not run: 1 in docs/ (nbmake runs one folder: set notebooks)"
    )


@pytest.mark.parametrize("cores", [8, 2])
def test_measure_proposes_xdist_for_a_unit_suite_of_over_a_minute_on_enough_cores(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cores: int,
) -> None:
    """Each xdist worker imports torch again: on 2 cores a 105 s suite took 283 s with
    `-n auto` (probabilists/zuko), so xdist is proposed from 4 cores only."""
    monkeypatch.setattr("mlci.init.measure.os.cpu_count", lambda: cores)
    root = measured_project(tmp_path / "project", monkeypatch)
    slow = '<testsuites><testsuite tests="40" time="83.2"/></testsuites>'
    steps: dict[str, dict[str, object]] = {
        **GREEN_TODAY,
        "unit-3.11": {
            "files": {
                "mlci-reports/unit-3.11/coverage.xml": COVERAGE_XML,
                "mlci-reports/unit-3.11/junit.xml": slow,
            },
            "abort": "unit: coverage 66.67% is under coverage-fail-under 80%",
        },
    }
    fake_sessions(root, steps)
    assert main(["init", "--project", str(root), "--measure"]) == 0
    out = capsys.readouterr().out
    assert "unit's tests took 83 s today" in out
    written = (root / "pyproject.toml").read_text()
    if cores >= 4:
        assert 'xdist-workers = "auto"' in written
    else:
        assert "xdist-workers" not in written
        assert "xdist not proposed: 2 cores here (it pays from 4)" in out


def test_measure_leaves_out_notebooks_that_fail_today_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Demo notebooks that import what the project never declares: nbmake is left out of
    sessions with the cause, and the first `nox` is green; unit's failures would stay red."""
    root = measured_project(tmp_path / "project", monkeypatch)
    (root / "notebooks").mkdir()
    (root / "notebooks" / "demo.ipynb").write_text('{"cells": []}')
    failing = (
        '<testsuites><testsuite tests="3"><testcase name="demo.ipynb"><failure message="x">'
        "ModuleNotFoundError: No module named 'matplotlib'</failure></testcase>"
        '<testcase name="jit.ipynb"><failure message="">Traceback (most recent call last):\n'
        '  File "x", line 1\n#x1B[31mRuntimeError#x1B[39m: type INTERNAL ASSERT FAILED'
        "</failure></testcase>"
        '<testcase name="other.ipynb"/></testsuite></testsuites>'
    )
    steps = {
        **GREEN_TODAY,
        "nbmake": {
            "files": {"mlci-reports/nbmake/junit.xml": failing},
            "tool": "pytest",
            "exit": 1,
        },
    }
    fake_sessions(root, steps)
    assert main(["init", "--project", str(root), "--measure"]) == 0
    out = capsys.readouterr().out
    # Each cause named: one notebook lacks a module, the other fails for its own reason.
    why = (
        "2 notebook(s) fail today: 1 import what is not installed: matplotlib (1);"
        " 1 fail otherwise (RuntimeError: type INTERNAL ASSERT FAILED)"
    )
    assert f"nbmake left out: {why}" in out
    written = (root / "pyproject.toml").read_text()
    assert 'sessions = ["lint", "mypy", "unit"]' in written


def test_the_cause_of_a_pre_commit_failure_is_gits_line_not_the_log_hint() -> None:
    from mlci.init.measure import _cause

    said = [
        "[INFO] Initializing environment for https://github.com/pre-commit/pre-commit-hooks.",
        "An unexpected error has occurred: CalledProcessError: command: ('/usr/bin/git', 'fetch')",
        "fatal: unable to access 'https://github.com/pre-commit/pre-commit-hooks/': Could not"
        " resolve host: github.com",
        "Check the log at /root/.cache/pre-commit/pre-commit.log",
    ]
    assert _cause(said).startswith("fatal: unable to access 'https://github.com/pre-commit/")


@pytest.mark.parametrize("declared", ["setup.py", "setup.cfg", "pyproject.toml"])
def test_init_proposes_the_extras_the_tests_need(tmp_path: Path, declared: str) -> None:
    """The extra named for the tests (its pytest plugins give fixtures such as `mocker`), and
    an extra holding a module the tests import; never docs, nor one for pytest itself."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""Pkg."""\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fit.py").write_text(
        "import lightning\nimport pytest\n\nimport pkg\n\n\ndef test_fit(mocker):\n    pass\n"
    )
    extras = {
        "tests": ["pytest", "pytest-mock"],
        "train": ["lightning>=2"],
        "docs": ["lightning", "mkdocs"],
        "dev": ["pytest", "black"],
    }
    if declared == "setup.py":
        (tmp_path / "setup.py").write_text(
            f"from setuptools import setup\n\nsetup(name='pkg', extras_require={extras!r})\n"
        )
    elif declared == "setup.cfg":
        sections = "".join(
            f"{name} =\n    " + "\n    ".join(deps) + "\n" for name, deps in extras.items()
        )
        (tmp_path / "setup.cfg").write_text(
            f"[metadata]\nname = pkg\n\n[options.extras_require]\n{sections}"
        )
    else:
        lines = "".join(f"{name} = {deps!r}\n" for name, deps in extras.items())
        (tmp_path / "pyproject.toml").write_text(
            f"[project]\nname = 'pkg'\nversion = '0.1'\n\n[project.optional-dependencies]\n{lines}"
        )
    proposal = init.propose(tmp_path)
    assert proposal.table["extras"] == ["tests", "train"]
    [row] = [row for row in proposal.rows if row.what == "extras"]
    assert row.why == (
        "tests: the extra for the tests (pytest, pytest-mock); train: the tests import lightning"
    )


def test_an_extras_require_built_in_code_proposes_none(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""Pkg."""\n')
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup\n\nEXTRAS = {'tests': ['pytest-mock']}\n"
        "setup(name='pkg', extras_require={k: v for k, v in EXTRAS.items()})\n"
    )
    assert "extras" not in init.propose(tmp_path).table


def test_init_proposes_the_extra_the_notebooks_import(tmp_path: Path) -> None:
    """The notebooks nbmake runs need their imports too (`matplotlib` in the `dev` extra)."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""Pkg."""\n')
    (tmp_path / "notebooks").mkdir()
    cells = [
        {"cell_type": "markdown", "source": ["import nothing_here"]},
        {
            "cell_type": "code",
            "source": ["%matplotlib inline\n", "import matplotlib.pyplot as plt"],
        },
    ]
    (tmp_path / "notebooks" / "demo.ipynb").write_text(json.dumps({"cells": cells}))
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'pkg'\nversion = '0.1'\n\n[project.optional-dependencies]\n"
        "test = ['pytest']\ndev = ['matplotlib', 'ruff']\n"
    )
    proposal = init.propose(tmp_path)
    assert proposal.table["extras"] == ["test", "dev"]
    [row] = [row for row in proposal.rows if row.what == "extras"]
    assert row.why == "test: the extra for the tests (pytest); dev: the notebooks import matplotlib"
