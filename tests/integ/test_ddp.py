"""The sample's DDP test on CPU (two processes, gloo) passes, and a rank-dependent bug (only
rank 0 really steps) turns unit red, naming it."""

from __future__ import annotations

from pathlib import Path

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


def test_ddp_on_cpu_passes_and_a_rank_bug_fails_it(sample: Path, run_nox: RunNox) -> None:
    select = ("-s", "unit-3.11", "--", "-k", "ddp", "--no-cov")
    done = run_nox(sample, *select, env=NO_QUICK)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "test_ddp.py::test_ddp_on_cpu_keeps_the_ranks_in_step_and_checkpoints_once PASSED"
        in (done.stdout + done.stderr)
        or " 1 passed" in done.stdout + done.stderr
    )

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
