from __future__ import annotations

import pytest

from mlci.config.option_table import OPTIONS, OPTIONS_BY_NAME, SESSION_NAMES
from mlci.config.options import OptionError, parse_list


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["3.10", "3.11"]', ("3.10", "3.11")),
        ("3.10, 3.11", ("3.10", "3.11")),
        ("3.12", ("3.12",)),
        ("", ()),
        (["a", " b "], ("a", "b")),
        ([3], ("3",)),
    ],
)
def test_parse_list_accepts_json_comma_and_toml(raw: object, expected: tuple[str, ...]) -> None:
    assert parse_list(raw, "x") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('["3.10", ', "malformed JSON array"),
        ({"a": 1}, "is not a list"),
        ([["nested"]], "is not a string"),
        ([True], "is not a string"),
        # TOML reads 3.10 as 3.1: refused, saying to quote it.
        ([3.10], r'3\.1 is a number, not text: quote versions \("3\.10", not 3\.10\)'),
    ],
)
def test_parse_list_rejects(raw: object, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_list(raw, "python-versions")


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("testmon", "yes", True),
        ("testmon", "0", False),
        ("testmon", True, True),
        ("coverage-fail-under", "72.5", 72.5),
        ("coverage-fail-under", 90, 90.0),
        ("notebook-timeout", "30", 30),
        ("torch-backend", " cu128 ", "cu128"),
        ("xdist-workers", "auto", "auto"),
        ("sessions", "unit,lint", ("unit", "lint")),
    ],
)
def test_parse_converts(name: str, raw: object, expected: object) -> None:
    assert OPTIONS_BY_NAME[name].parse(raw, name) == expected


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("testmon", "maybe", "not a boolean"),
        ("coverage-fail-under", "high", "not a number"),
        ("coverage-fail-under", True, "not a number"),
        ("coverage-fail-under", "101", "outside 0-100"),
        ("coverage-fail-under", -1, "outside 0-100"),
        ("notebook-timeout", "0", "must be above 0"),
        ("notebook-timeout", "1.5", "not a whole number"),
        ("python-versions", "3.11,python3", "'python3' is not a Python version"),
        ("python-versions", "[]", "the list is empty"),
        ("torch-backend", "cuda", "not a torch backend"),
        ("torch-backend", "cpu; rm -rf /", "not a torch backend"),
        ("gpu-backends", "cpu", "not a CUDA build"),
        ("sessions", "unit,docs", r"'docs' is not a session \(choose from lint, mypy"),
        ("xdist-workers", "-n 4", "not a worker count"),
        ("package", "my-model", "not a Python package name"),
        ("extras", "dev,$(whoami)", "not a valid name"),
        ("tests-dir", 3, "not a string"),
        ("tests-dir", "/etc", "not a relative folder inside the project"),
        ("notebooks", "../outside", "not a relative folder inside the project"),
        # ASCII digits only: Python's int() and float() read these, mlci does not.
        ("xdist-workers", "²", "not a worker count"),
        ("notebook-timeout", "\u0661\u0661", "not a whole number"),  # Arabic-Indic 11
        ("coverage-fail-under", "\u0668\u0660", "not a number"),
        ("python-versions", "3.\u0661\u0661", "is not a Python version"),
        ("test-timeout", "-1", "must be 0 \\(off\\) or more"),
        ("call-id", "a b", "is not a name"),
    ],
)
def test_parse_rejects_with_the_setting_named(name: str, raw: object, message: str) -> None:
    with pytest.raises(OptionError, match=rf"^{name}: .*{message}"):
        OPTIONS_BY_NAME[name].parse(raw, name)


def test_names_env_vars_and_flags_follow_one_scheme() -> None:
    for option in OPTIONS:
        assert option.name == option.name.lower()
        assert option.env_var == "MLCI_" + option.name.upper().replace("-", "_")
        assert option.flag == f"--{option.name}"
        assert option.description.endswith((".", ")"))
    assert len(OPTIONS_BY_NAME) == len(OPTIONS)


def test_defaults_pass_their_own_checks() -> None:
    for option in OPTIONS:
        if option.check is not None and option.default not in ("", ()):
            assert option.check(option.default) is None, option.name


def test_default_sessions_are_all_sessions() -> None:
    assert OPTIONS_BY_NAME["sessions"].default == SESSION_NAMES


def test_settings_have_one_typed_attribute_per_option() -> None:
    """The table is the data, Settings the typed view (mypy catches a misspelt option)."""
    import dataclasses
    import typing

    from mlci.config.settings import Settings

    python_type = {
        "str": str,
        "bool": bool,
        "int": int,
        "number": float,
        "list": tuple[str, ...],
    }
    hints = typing.get_type_hints(Settings)
    fields = {f.name for f in dataclasses.fields(Settings)}
    extra = {"project", "sources", "warnings"}
    assert fields - extra == {option.attribute for option in OPTIONS}
    for option in OPTIONS:
        assert hints[option.attribute] == python_type[option.kind], option.name


def test_what_chooses_where_jobs_run_is_never_read_from_pyproject() -> None:
    """A pull request's own pyproject.toml must not move jobs onto other runners or images."""
    placement = {"runner", "gpu-runner", "gpu-container", "call-id"}
    # what is claimed of a runner (a pull request could claim its runner is throwaway)
    placement |= {"gpu-runner-ephemeral"}
    # what one run is: set by the CI front ends per job or per run, never per project
    run_level = {"shard", "event", "diff-base", "unit-tests"}
    assert {option.name for option in OPTIONS if not option.project} == placement | run_level
