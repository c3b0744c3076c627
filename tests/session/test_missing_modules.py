"""Test modules that import what is not installed: one line per missing module, naming the
extra or dependency group that holds it."""

from __future__ import annotations

import pytest

from mlci.session import missing_modules


def test_collection_failures_become_one_line_per_missing_module(pytester: pytest.Pytester) -> None:
    for name in ("a", "b", "c"):
        pytester.makepyfile(**{f"test_{name}": "import lightning_gone\n\ndef test_x(): ...\n"})
    pytester.makepyfile(test_d="from sklearn import svm\n")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(f"--junitxml={junit}", "-p", "no:cacheprovider")
    assert result.ret == 2  # pytest stops: errors during collection
    pyproject = {
        "project": {"optional-dependencies": {"torch": ["lightning-gone>=2"]}},
        "dependency-groups": {"dev": ["scikit-learn>=1.4"]},
    }
    line = missing_modules.summary("unit", junit, pyproject)
    assert line == (
        "unit: tests could not be collected: 3 test module(s) import lightning_gone: not"
        " installed; it is in extra 'torch': set extras = ['torch'] in [tool.mlci];"
        " 1 test module(s) import sklearn: not installed; it is in dependency group 'dev':"
        " set dependency-groups = ['dev'] in [tool.mlci]"
    )
    assert missing_modules.summary("unit", junit, {}) == (
        "unit: tests could not be collected: 3 test module(s) import lightning_gone: not"
        " installed; 1 test module(s) import sklearn: not installed"
    )


def test_a_run_that_collected_is_not_summarized(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_x():\n    assert False\n")
    junit = pytester.path / "junit.xml"
    pytester.runpytest_subprocess(f"--junitxml={junit}")
    assert missing_modules.summary("unit", junit, {}) is None
    assert missing_modules.summary("unit", pytester.path / "none.xml", {}) is None


def test_a_fixture_no_plugin_gives_is_one_line_naming_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    """`mocker` without pytest-mock: every test using it errors at setup, one line in all."""
    pytester.makepyfile(
        test_a="def test_x(mocker): ...\n\ndef test_y(mocker): ...\n\ndef test_z(nothing): ...\n"
    )
    junit = pytester.path / "junit.xml"
    # Whatever this environment has: the plugin that gives `mocker` is not loaded.
    result = pytester.runpytest_subprocess(
        f"--junitxml={junit}", "-p", "no:cacheprovider", "-p", "no:pytest_mock"
    )
    assert result.ret == 1
    pyproject = {"project": {"optional-dependencies": {"tests": ["pytest-mock>=3"]}}}
    assert missing_modules.summary("unit", junit, pyproject) == (
        "unit: tests could not be set up: 2 test(s) use fixture 'mocker': pytest-mock gives it,"
        " not installed; it is in extra 'tests': set extras = ['tests'] in [tool.mlci];"
        " 1 test(s) use fixture 'nothing', which nothing installed defines"
    )
