"""The test map: read from a real pytest-cov run with test contexts, written, read back, merged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import coverage
import pytest

from mlci.session.test_map import FORMAT, TestMap, file_of, from_coverage, merge

WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)

PROJECT = {
    "pyproject.toml": """
        [tool.coverage.run]
        branch = true  # as the kit records it
    """,
    "pkg/__init__.py": "",
    "pkg/a.py": """
        def fa():
            return 1
    """,
    "pkg/b.py": """
        def fb():
            return 2
    """,
    "pkg/shared.py": """
        def build():
            return [1, 2]
    """,
    "pkg/consts.py": """
        K = 3
    """,
    "tests/test_x.py": """
        import pytest
        import extmod
        from pkg import a, b, shared
        from pkg.consts import K

        @pytest.fixture(scope="session")
        def built():
            return shared.build()

        def test_a():
            assert a.fa() == 1
            assert extmod.outside() == 0

        def test_b():
            assert b.fb() == 2

        def test_shared_first(built):
            assert built == [1, 2]

        def test_shared_second(built):
            assert built == [1, 2]

        def test_constant():
            assert K == 3

        @pytest.mark.parametrize("v", ["x|y"])
        def test_bar_in_id(v):
            assert a.fa() == 1
    """,
    "../outside/extmod.py": """
        def outside():
            return 0
    """,
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project and the coverage data file a real `pytest --cov-context=test` run left."""
    root = tmp_path_factory.mktemp("recorded") / "proj"
    _write(root, PROJECT)
    # The run under test must write its own data file: a session sets COVERAGE_FILE elsewhere.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COV_CORE", "COVERAGE_", "PYTEST_"))
    }
    env["PYTHONPATH"] = str(root.parent / "outside")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=pkg",
         "--cov=extmod", "--cov-context=test", "tests"],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return root / ".coverage", root


@pytest.fixture(scope="module")
def real_map(recorded: tuple[Path, Path]) -> TestMap:
    data_file, root = recorded
    return from_coverage(data_file, root, commit="abc1234", recorded_at=WHEN)


def test_a_test_reaches_the_module_it_ran_and_not_the_others(real_map: TestMap) -> None:
    assert real_map.tests["tests/test_x.py::test_a"] == {"pkg/a.py"}
    assert real_map.tests["tests/test_x.py::test_b"] == {"pkg/b.py"}


def test_phase_suffixes_are_stripped_and_the_empty_context_ignored(real_map: TestMap) -> None:
    assert all("|run" not in t and "|setup" not in t for t in real_map.tests)
    assert "" not in real_map.tests
    # Module-level lines ran at import, in the empty context, for no test in particular.
    assert "pkg/consts.py" not in real_map.seen_files()
    assert "tests/test_x.py::test_constant" not in real_map.tests


def test_a_bar_inside_a_parametrized_id_is_kept(real_map: TestMap) -> None:
    assert real_map.tests["tests/test_x.py::test_bar_in_id[x|y]"] == {"pkg/a.py"}


def test_files_outside_the_root_are_dropped(real_map: TestMap) -> None:
    assert all(not name.startswith("..") for name in real_map.seen_files())
    assert not any("extmod" in name for name in real_map.seen_files())


def test_a_shared_fixture_is_recorded_for_its_first_test_only(real_map: TestMap) -> None:
    assert real_map.tests["tests/test_x.py::test_shared_first"] == {"pkg/shared.py"}
    assert "tests/test_x.py::test_shared_second" not in real_map.tests
    assert real_map.setup_files == {"pkg/shared.py"}


def test_commit_and_time_are_the_callers_and_the_default_time_is_now_utc(
    recorded: tuple[Path, Path],
) -> None:
    data_file, root = recorded
    before = datetime.now(timezone.utc)
    fresh = from_coverage(data_file, root, marker_tests={"gpu": frozenset({"t"})})
    assert fresh.recorded_at.tzinfo == timezone.utc
    assert before <= fresh.recorded_at <= datetime.now(timezone.utc)
    assert fresh.commit == ""
    assert fresh.marker_tests == {"gpu": {"t"}}


def _data_file(path: Path, lines: dict[str, dict[str, list[int]]]) -> Path:
    """A coverage data file written through coverage's own API: context -> file -> lines."""
    data = coverage.CoverageData(basename=str(path))
    for context, files in lines.items():
        data.set_context(context)
        data.add_lines(files)
    data.write()
    return path


def test_relative_paths_recorded_with_relative_files_are_read_from_the_root(
    tmp_path: Path,
) -> None:
    data_file = _data_file(
        tmp_path / ".coverage",
        {"tests/t.py::test_r|run": {"pkg/a.py": [1], "/elsewhere/x.py": [1]}},
    )
    assert from_coverage(data_file, tmp_path).tests == {"tests/t.py::test_r": {"pkg/a.py"}}


def test_a_context_without_a_phase_is_taken_whole(tmp_path: Path) -> None:
    data_file = _data_file(tmp_path / ".coverage", {"custom|label": {"pkg/a.py": [1]}})
    assert from_coverage(data_file, tmp_path).tests == {"custom|label": {"pkg/a.py"}}


def test_data_without_test_contexts_is_refused_naming_the_option(tmp_path: Path) -> None:
    data_file = _data_file(tmp_path / ".coverage", {"": {str(tmp_path / "a.py"): [1]}})
    with pytest.raises(ValueError, match="--cov-context=test") as caught:
        from_coverage(data_file, tmp_path)
    assert "\n" not in str(caught.value)


def test_a_missing_data_file_is_a_one_line_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no coverage data file"):
        from_coverage(tmp_path / ".coverage", tmp_path)


def test_a_broken_data_file_is_a_one_line_value_error(tmp_path: Path) -> None:
    broken = tmp_path / ".coverage"
    broken.write_text("not\na database\n")
    with pytest.raises(ValueError, match="unreadable coverage data") as caught:
        from_coverage(broken, tmp_path)
    assert "\n" not in str(caught.value)


def _map(**overrides: object) -> TestMap:
    fields: dict[str, object] = {
        "tests": {"t::a": frozenset({"pkg/a.py"}), "t::b": frozenset()},
        "commit": "abc1234",
        "recorded_at": WHEN,
        "marker_tests": {"gpu": frozenset({"t::a"})},
        "setup_files": frozenset({"pkg/s.py"}),
    }
    fields.update(overrides)
    return TestMap(**fields)  # type: ignore[arg-type]


def test_dump_and_load_give_back_the_same_map(tmp_path: Path) -> None:
    original = _map()
    original.dump(tmp_path / "map.json")
    assert TestMap.load(tmp_path / "map.json") == original


def test_the_file_is_format_1_with_sorted_lists(tmp_path: Path) -> None:
    _map(tests={"t::a": frozenset({"z.py", "a.py"})}).dump(tmp_path / "map.json")
    data = json.loads((tmp_path / "map.json").read_text())
    assert data["format"] == FORMAT == 1
    assert data["tests"] == {"t::a": ["a.py", "z.py"]}
    assert data["recorded_at"] == "2025-03-01T12:00:00+00:00"


def test_marker_tests_and_setup_files_may_be_absent(tmp_path: Path) -> None:
    (tmp_path / "map.json").write_text(
        json.dumps({"format": 1, "commit": "c", "recorded_at": WHEN.isoformat(), "tests": {}})
    )
    loaded = TestMap.load(tmp_path / "map.json")
    assert loaded.marker_tests == {}
    assert loaded.setup_files == frozenset()


GOOD = {"format": 1, "commit": "c", "recorded_at": "2025-03-01T12:00:00+00:00", "tests": {}}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not a readable test map"),
        ("[1, 2]", "no JSON object"),
        (json.dumps({**GOOD, "format": 2}), "format is 2"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "format"}), "format is None"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "tests"}), "tests"),
        (json.dumps({**GOOD, "commit": 7}), "commit is not a string"),
        (json.dumps({**GOOD, "tests": {"t": "a.py"}}), "not a list of strings"),
        (json.dumps({**GOOD, "tests": {"t": [1]}}), "not a list of strings"),
        (json.dumps({**GOOD, "recorded_at": "2025-03-01T12:00:00"}), "no time zone"),
        (json.dumps({**GOOD, "recorded_at": "yesterday"}), "Invalid isoformat"),
        (json.dumps({**GOOD, "tests": {"t": ["/abs/a.py"]}}), "not a POSIX path inside"),
        (json.dumps({**GOOD, "setup_files": ["../up.py"]}), "not a POSIX path inside"),
        (json.dumps({**GOOD, "marker_tests": []}), "marker_tests is not an object"),
    ],
)
def test_a_malformed_map_is_a_one_line_value_error(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=why) as caught:
        TestMap.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")


def test_a_file_that_is_no_text_is_a_value_error(tmp_path: Path) -> None:
    (tmp_path / "map.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a readable test map"):
        TestMap.load(tmp_path / "map.json")


def test_a_missing_map_is_file_not_found_for_the_caller_to_run_all(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        TestMap.load(tmp_path / "absent.json")


def test_recorded_at_is_kept_in_utc_and_must_have_a_zone() -> None:
    east = timezone(timedelta(hours=2))
    assert _map(recorded_at=datetime(2025, 3, 1, 14, 0, tzinfo=east)).recorded_at == WHEN
    assert _map(recorded_at=datetime(2025, 3, 1, 14, tzinfo=east)).recorded_at.tzinfo is (
        timezone.utc
    )
    with pytest.raises(ValueError, match="time zone"):
        _map(recorded_at=datetime(2025, 3, 1, 12, 0))  # naive


def test_merge_unions_the_files_of_each_test_and_keeps_tests_of_either() -> None:
    cpu = _map(
        tests={"t::a": frozenset({"a.py"}), "t::cpu": frozenset({"c.py"})},
        marker_tests={"gpu": frozenset({"t::a"})},
        setup_files=frozenset({"s1.py"}),
    )
    gpu = _map(
        tests={"t::a": frozenset({"cuda.py"}), "t::g": frozenset({"g.py"})},
        marker_tests={"gpu": frozenset({"t::g"}), "slow": frozenset({"t::a"})},
        setup_files=frozenset({"s2.py"}),
    )
    merged = merge(cpu, gpu)
    assert merged.tests == {
        "t::a": {"a.py", "cuda.py"},
        "t::cpu": {"c.py"},
        "t::g": {"g.py"},
    }
    assert merged.marker_tests == {"gpu": {"t::a", "t::g"}, "slow": {"t::a"}}
    assert merged.setup_files == {"s1.py", "s2.py"}


def test_merge_is_as_old_as_its_older_part_in_either_order() -> None:
    """A fresh CPU map merged with a stale GPU map is stale: the age check must see it."""
    old = _map(commit="old", recorded_at=WHEN)
    new = _map(commit="new", recorded_at=WHEN + timedelta(hours=1))
    for merged in (merge(old, new), merge(new, old)):
        assert (merged.commit, merged.recorded_at) == ("old", WHEN)
    assert merge(_map(commit="a"), _map(commit="b")).commit == "b"


def test_file_of_is_the_part_before_the_first_double_colon() -> None:
    assert file_of("tests/test_x.py::TestA::test_b[p::q]") == "tests/test_x.py"
    assert file_of("tests/test_x.py") == "tests/test_x.py"


def test_seen_files_are_every_file_of_every_test() -> None:
    seen = _map(tests={"a": frozenset({"x.py"}), "b": frozenset({"y.py", "x.py"})}).seen_files()
    assert seen == {"x.py", "y.py"}


def test_the_commands_record_a_map_and_decide_from_it(
    recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mlci test-map` then `mlci select`, as a plan job would run them on a pull request."""
    from mlci.cli import main

    data_file, root = recorded
    test_map = tmp_path / "map.json"
    args = ["--coverage", str(data_file), "--root", str(root), "--commit", "abc1234def"]
    assert main(["test-map", *args, "--output", str(test_map)]) == 0
    assert "tests and the files they ran" in capsys.readouterr().out

    def select(changed: str, *more: str) -> dict[str, object]:
        (tmp_path / "changed.txt").write_text(changed)
        decision = tmp_path / "decision.json"
        command = ["select", "--map", str(test_map), "--changed", str(tmp_path / "changed.txt")]
        assert main([*command, "--event", "pull_request", *more, "--output", str(decision)]) == 0
        found: dict[str, object] = json.loads(decision.read_text())
        assert f"mlci: {found['reason']}" in capsys.readouterr().out
        return found

    only_a = select("pkg/a.py\n")
    assert only_a["run"] is True and "tests/test_x.py::test_a" in list(only_a["tests"])  # type: ignore[call-overload]
    assert "tests/test_x.py::test_b" not in list(only_a["tests"])  # type: ignore[call-overload]
    docs = select("README.md\n")
    assert docs["run"] is False and str(docs["reason"]).endswith("last full run abc1234")
    assert select("pyproject.toml\npkg/a.py\n") == {
        "run": True,
        "tests": None,
        "reason": "gpu: all tests, pyproject.toml changed",
    }
    assert select("README.md\n", "--always", "*.md")["tests"] is None


def test_select_without_a_map_runs_everything_and_a_broken_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlci.cli import main

    (tmp_path / "changed.txt").write_text("pkg/a.py\n")
    command = ["select", "--changed", str(tmp_path / "changed.txt"), "--event", "pull_request"]
    assert main([*command, "--map", str(tmp_path / "none.json")]) == 0
    assert capsys.readouterr().out == "mlci: gpu: all tests, no test map recorded yet\n"
    (tmp_path / "broken.json").write_text("{")
    assert main([*command, "--map", str(tmp_path / "broken.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
