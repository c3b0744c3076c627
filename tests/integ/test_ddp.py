"""The sample's DDP test on CPU (two processes, gloo) passes, and a rank-dependent bug (only
rank 0 really steps) turns unit red, naming it."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.integ.conftest import NO_QUICK, RunNox, edit

pytestmark = pytest.mark.integ

RANK_BUG = '''
    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Broken on purpose: every rank but 0 throws its averaged gradients away."""
        if self.trainer.global_rank != 0:
            for parameter in self.parameters():
                parameter.grad = torch.zeros_like(parameter)

    def configure_optimizers(self)'''


def lines_run(coverage_xml: Path, source: str) -> dict[int, int]:
    """Line number -> hits of one file, from a Cobertura report."""
    tree = ElementTree.parse(coverage_xml)
    [found] = [c for c in tree.iter("class") if c.get("filename", "").endswith(source)]
    return {int(line.get("number", 0)): int(line.get("hits", 0)) for line in found.iter("line")}


def test_ddp_on_cpu_passes_and_a_rank_bug_fails_it(sample: Path, run_nox: RunNox) -> None:
    # Only the DDP test, with coverage (its floor off: one test covers little of the package).
    done = run_nox(
        sample,
        "-s",
        "unit-3.11",
        "--",
        "-k",
        "ddp",
        env={**NO_QUICK, "MLCI_COVERAGE_FAIL_UNDER": "0"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "test_ddp.py::test_ddp_on_cpu_keeps_the_ranks_in_step_and_checkpoints_once PASSED"
        in (done.stdout + done.stderr)
        or " 1 passed" in done.stdout + done.stderr
    )
    # The ranks train in processes of their own (ddp_spawn): their lines count, measured there
    # and combined; the main process never runs a training step.
    source = (sample / "src" / "sample_model" / "classifier.py").read_text().splitlines()
    step = next(i for i, line in enumerate(source, 1) if "def training_step" in line)
    hits = lines_run(sample / "mlci-reports" / "unit-3.11" / "coverage.xml", "classifier.py")
    assert hits[step + 1] > 0, "training_step ran in the ranks, and coverage saw it"
    # Helper processes that measured nothing leave no data file behind.
    assert [p.name for p in (sample / "mlci-reports" / "unit-3.11").glob("coverage.data*")] == [
        "coverage.data"
    ]

    select = ("-s", "unit-3.11", "--", "-k", "ddp", "--no-cov")

    edit(
        sample / "src" / "sample_model" / "classifier.py",
        "\n    def configure_optimizers(self)",
        RANK_BUG,
    )
    broken = run_nox(sample, *select, env=NO_QUICK)
    assert broken.returncode != 0
    output = broken.stdout + broken.stderr
    assert (
        "FAILED tests/test_ddp.py::test_ddp_on_cpu_keeps_the_ranks_in_step_and_checkpoints_once"
        in output
    )
    assert 'torch.equal(ranks[0]["params"], ranks[1]["params"])' in output
