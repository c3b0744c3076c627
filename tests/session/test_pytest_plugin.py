from __future__ import annotations

import pytest

TESTS = """
import pytest

@pytest.mark.gpu
def test_on_gpu():
    pass

@pytest.mark.integ
def test_integ():
    pass

@pytest.mark.slow
def test_slow():
    pass
"""


def test_markers_are_registered_for_strict_markers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLCI_SESSION", raising=False)
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("--strict-markers", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        ["*gpu test: runs only in the gpu session (nox -s gpu) or with --run-gpu*"]
    )


def test_gpu_tests_run_in_the_gpu_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCI_SESSION", "gpu")
    pytester.makepyfile(TESTS)
    pytester.runpytest_subprocess("--strict-markers", "-m", "gpu").assert_outcomes(
        passed=1, deselected=2
    )


def test_run_gpu_flag(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_SESSION", "unit")
    pytester.makepyfile(TESTS)
    pytester.runpytest_subprocess("--strict-markers", "--run-gpu").assert_outcomes(passed=3)


def test_markers_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.integ:*", "@pytest.mark.gpu(devices=1):*", "@pytest.mark.slow:*"]
    )


def test_multi_device_tests_skip_with_the_reason_the_gpu_session_accepts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCI_SESSION", "gpu")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.gpu(devices=64)
        def test_ddp():
            pass

        @pytest.mark.gpu
        def test_one_device():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs 64 CUDA devices, this machine has *"])
