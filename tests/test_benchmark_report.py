"""The benchmark report writer keeps the hand-written notes and ends the file as pre-commit
wants it (one newline), so `bench.py --write` never leaves lint red."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench.py"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notes_survive_and_the_file_ends_in_one_newline(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# old figures\n\n## Notes\n\n- kept by hand\n\n\n")
    bench().write_report(report, "# new figures\n\n")
    assert report.read_text() == "# new figures\n\n## Notes\n\n- kept by hand\n"


def test_a_first_report_ends_in_one_newline(tmp_path: Path) -> None:
    report = tmp_path / "docs" / "benchmarks.md"
    bench().write_report(report, "# figures\n\n")
    assert report.read_text() == "# figures\n"
