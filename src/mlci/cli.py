"""The `mlci` command."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci._version import __version__
from mlci.config.option_table import OPTIONS, OPTIONS_BY_NAME
from mlci.errors import ConfigError

if TYPE_CHECKING:
    from mlci.ci.planner import Plan
    from mlci.config.settings import Settings

EPILOG = """\
Settings come from, highest first: a flag, the MLCI_<NAME> environment variable,
[tool.mlci] in pyproject.toml, the built-in default. `mlci options` lists them all.
Run the sessions themselves with nox (`nox -l` lists them, `nox -s unit-3.12`).
"""


class _Once(argparse.Action):
    """A flag given twice is a mistake (which one was meant?), not last-one-wins."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} is given more than once")
        setattr(namespace, self.dest, values)


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override [tool.mlci] and MLCI_* variables)")
    for option in OPTIONS:
        group.add_argument(
            option.flag,
            dest=option.name,
            metavar=option.kind.upper(),
            help=option.description,
            action=_Once,
        )


def _command(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, allow_abbrev=False, **kwargs)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The `mlci` parser; setting flags are generated from the option table."""
    parser = argparse.ArgumentParser(
        prog="mlci",
        description="CI kit for Python ML repositories: one set of nox sessions "
        "(lint, mypy, unit, integ, nbmake, gpu) run locally, on GitHub and on GitLab.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"mlci {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    init = _command(
        sub,
        "init",
        help="set up mlci in an existing repository: noxfile, [tool.mlci], CI callers",
        description="Inspect the repository (how it is built, its package, tests, markers,"
        " notebooks, tool configs) and write the two-line noxfile and a [tool.mlci] table that"
        " enables only the sessions with something to check, printing each choice and why."
        " Never overwrites a file that differs without --force; running it twice changes"
        " nothing.",
    )
    init.add_argument("--project", type=Path, default=Path("."), help="project folder (default: .)")
    init.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    init.add_argument(
        "--force", action="store_true", help="replace files and [tool.mlci] that differ"
    )
    init.add_argument("--github", action="store_true", help="also write .github/workflows/ci.yml")
    init.add_argument("--gitlab", action="store_true", help="also write .gitlab-ci.yml")
    init.add_argument(
        "--pre-commit",
        action="store_true",
        help="also write a starter .pre-commit-config.yaml (ruff) when there is none",
    )
    init.add_argument(
        "--measure",
        action="store_true",
        help="run the sessions once and record today's pylint score, mypy errors (a baseline)"
        " and coverage, so the first run is green and only a regression fails",
    )

    sessions = _command(
        sub,
        "sessions",
        help="show the sessions a project gets, their commands, and each setting's source",
        description="Show the sessions `mlci.sessions()` registers for a project, the exact"
        " commands nox runs in each, the sessions left out (and why), what the environment is"
        " installed from, and every setting with where its value came from.",
    )
    sessions.add_argument(
        "--project", type=Path, default=Path("."), help="project folder (default: .)"
    )
    sessions.add_argument("--json", action="store_true", help="machine-readable output")
    _add_option_flags(sessions)

    doctor = _command(
        sub,
        "doctor",
        help="report Python, uv, nox, torch and its build, GPUs; check a GPU session can run",
        description="Report this environment: Python, uv, nox, torch version and build, CUDA and"
        " GPUs. With --require-gpu, exit 1 with one line per problem when a GPU session"
        " cannot run here.",
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument(
        "--require-gpu",
        action="store_true",
        help="fail unless a CUDA device and CUDA torch are usable",
    )

    plan = _command(
        sub,
        "plan",
        help="turn CI inputs into the jobs to run; reject bad inputs in seconds",
        description="Validate the CI inputs against each other, the project and the torch"
        " compatibility table, and print the jobs to run. Exit 2 with one line per problem"
        " (naming the input, the bad value and the valid choices). Duplicated list entries are"
        " dropped with a warning. The project's [tool.mlci] is read from --working-directory.",
    )
    plan.add_argument(
        "--format",
        choices=("table", "github", "gitlab", "json"),
        default="table",
        help="table: for people; github: key=value lines for $GITHUB_OUTPUT (the matrix as"
        " JSON); gitlab: a dotenv report of the resolved MLCI_* values (every template job"
        " must have something to check); json: everything",
    )
    plan.add_argument(
        "--explain", action="store_true", help="also show every setting and its source"
    )
    plan.add_argument("--output", type=Path, help="append to this file instead of printing")
    plan.add_argument(
        "--expect-version",
        metavar="VERSION",
        help="fail unless this is mlci VERSION (a leading v is ignored): a CI template checks"
        " that the mlci it installed is its own release",
    )
    plan.add_argument(
        "--summary",
        type=Path,
        help="also append a Markdown report (the jobs, or the problems) to this file,"
        " e.g. $GITHUB_STEP_SUMMARY",
    )
    plan.add_argument(
        "--no-select",
        action="store_true",
        help="plan the gpu legs without gpu-select's decision, and name the test maps to"
        " restore before making it (the `test-maps` output): the CI plan job's first step",
    )
    plan.add_argument(
        "--gitlab-child",
        type=Path,
        metavar="FILE",
        help="with --format gitlab and a gpu-runner: also write the child pipeline of the gpu"
        " jobs to FILE (mlci-gpu.yml's trigger runs it): one job per CUDA build, or one that"
        " says why none runs",
    )
    _add_option_flags(plan)

    summary = _command(
        sub,
        "summary",
        help="Markdown summary of a session's reports (for $GITHUB_STEP_SUMMARY)",
        description="Print test counts and coverage from REPORTS/junit.xml and coverage.xml.",
    )
    summary.add_argument("reports", type=Path, nargs="+", help="the session's report folder(s)")
    summary.add_argument("--session", help="name shown (default: each folder's name)")
    summary.add_argument("--outcome", default="", help="how the session ended (success, failure)")

    needs = _command(
        sub,
        "check-needs",
        help="the required check: fail unless every needed CI job succeeded",
        description="Read GitHub's needs context (JSON) from MLCI_NEEDS and exit 1 unless every"
        " job succeeded. A skipped job fails too, unless it is named with --allow-skipped: a"
        " run where everything was skipped is not green.",
    )
    needs.add_argument("--needs", help="the JSON itself (default: $MLCI_NEEDS)")
    needs.add_argument(
        "--allow-skipped",
        default="",
        metavar="JOBS",
        help="comma-separated jobs that may be skipped (switched off by configuration)",
    )

    _session_tool_commands(sub)

    options = _command(sub, "options", help="list every setting (the README's table)")
    options.add_argument("--format", choices=("markdown", "json"), default="markdown")
    return parser


def _session_tool_commands(sub: Any) -> None:
    """The commands the sessions run themselves (baselines, the shards' durations)."""
    baseline = _command(
        sub,
        "mypy-baseline",
        help="run mypy; only errors not in a recorded baseline fail (the mypy session uses it)",
        description="Run MYPY_COMMAND, keep its output in --output, and let mypy-baseline judge"
        " it against --baseline: only new errors fail. mypy's own failures (exit 2) always do."
        " With --record, write the baseline instead.",
    )
    baseline.add_argument("--baseline", type=Path, required=True, help="the baseline file")
    baseline.add_argument("--output", type=Path, required=True, help="where mypy's output goes")
    baseline.add_argument("--record", action="store_true", help="write the baseline")
    baseline.add_argument("--junit", type=Path, help="write a JUnit report of the verdict here")
    baseline.add_argument("mypy", nargs=argparse.REMAINDER, help="-- mypy and its arguments")

    lint = _command(
        sub,
        "lint-baseline",
        help="run pylint; only messages not in a recorded baseline fail (the lint session uses it)",
        description="Run PYLINT_COMMAND (with a json2 report at --report) and"
        " judge its messages against --baseline: only new ones fail, fixed ones are removed from"
        " the file. pylint's own failures always fail. With --record, write the baseline.",
    )
    lint.add_argument("--baseline", type=Path, required=True, help="the baseline file")
    lint.add_argument("--report", type=Path, required=True, help="pylint's json2 report")
    lint.add_argument("--fail-under", type=float, help="also fail under this pylint score")
    lint.add_argument("--record", action="store_true", help="write the baseline")
    lint.add_argument(
        "--narrowed",
        action="store_true",
        help="the run checks less than the baseline recorded (arguments given): keep its entries",
    )
    lint.add_argument("pylint", nargs=argparse.REMAINDER, help="-- pylint and its arguments")

    durations = _command(
        sub,
        "merge-durations",
        help="merge the unit shards' recorded test durations (the coverage session uses it)",
        description="Merge pytest-split durations files (JSON, one per shard) into --output.",
    )
    durations.add_argument(
        "--output",
        type=Path,
        action="append",
        required=True,
        help="the merged file (repeat it to write the same merge to several places)",
    )
    durations.add_argument("files", type=Path, nargs="+", help="the shards' files")

    record = _command(
        sub,
        "test-map",
        help="record which project files each test ran, from coverage data (--cov-context=test)",
        description="Read a coverage data file recorded with pytest-cov's --cov-context=test and"
        " write the map of each test to the project files it executed (JSON). With --merge, the"
        " tests of other maps (a GPU runner's, say) are kept beside them.",
    )
    record.add_argument("--coverage", type=Path, required=True, help="coverage's data file")
    record.add_argument("--output", type=Path, required=True, help="the map to write")
    record.add_argument("--root", type=Path, default=Path.cwd(), help="the project folder")
    record.add_argument("--commit", help="the commit the run tested (default: git's HEAD)")
    record.add_argument("--marker", help="the tests all carry this marker (gpu: a gpu run's map)")
    record.add_argument("--merge", type=Path, action="append", default=[], help="a map to keep")

    select = _command(
        sub,
        "select",
        help="decide which tests of a test map a change can reach (a pull request's gpu tests)",
        description="Read the test map and the changed files (one path a line, deleted ones"
        " included) and say in one line whether the tests must run, and which. Everything runs"
        " unless EVENT is pull_request, the map is fresh, and every changed file is one the map"
        " can follow (dependencies, configuration, data files and new modules run everything).",
    )
    select.add_argument("--map", type=Path, required=True, help="the test map (mlci test-map)")
    select.add_argument("--changed", type=Path, required=True, help="the changed files, a list")
    select.add_argument("--event", required=True, help="pull_request, push_default, tag, ...")
    select.add_argument("--always", action="append", default=[], help="a glob that runs all")
    select.add_argument("--max-age-days", type=float, default=14.0, help="an older map runs all")
    select.add_argument("--mode", choices=("affected", "all"), default="affected")
    select.add_argument("--label", default="gpu", help="the tests' name in the reason line")
    select.add_argument("--output", type=Path, help="write the decision here (JSON)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `mlci`; user mistakes print one line and return 2."""
    args = build_parser().parse_args(argv)
    commands = {
        "sessions": _sessions,
        "init": _init,
        "doctor": _doctor,
        "plan": _plan,
        "summary": _summary,
        "mypy-baseline": _mypy_baseline,
        "lint-baseline": _lint_baseline,
        "merge-durations": _merge_durations,
        "check-needs": _check_needs,
        "options": _options,
        "test-map": _test_map,
        "select": _select,
    }
    try:
        return commands[args.command](args)
    except ConfigError as err:
        for warning in err.warnings:
            _report("warning", warning)
        for problem in err.problems:
            _report("error", problem)
        return 2


def _init(args: argparse.Namespace) -> int:
    from mlci.init import propose as init

    return init.main(
        args.project.resolve(),
        dry_run=args.dry_run,
        force=args.force,
        github=args.github,
        gitlab=args.gitlab,
        pre_commit=args.pre_commit,
        measure_first=args.measure,
    )


def _summary(args: argparse.Namespace) -> int:
    from mlci.session.summary import session_summary

    for folder in args.reports:
        print(session_summary(args.session or folder.name, folder, args.outcome), end="")
    return 0


def _mypy_baseline(args: argparse.Namespace) -> int:
    from mlci.session import mypy_baseline

    command = args.mypy[1:] if args.mypy[:1] == ["--"] else args.mypy
    if not command:
        raise ConfigError("mypy-baseline: give the mypy command after --")
    return mypy_baseline.run(
        command, args.baseline, args.output, record=args.record, junit=args.junit
    )


def _lint_baseline(args: argparse.Namespace) -> int:
    from mlci.session import lint_baseline

    command = args.pylint[1:] if args.pylint[:1] == ["--"] else args.pylint
    if not command:
        raise ConfigError("lint-baseline: give the pylint command after --")
    return lint_baseline.run(
        command,
        args.baseline,
        args.report,
        fail_under=args.fail_under,
        record=args.record,
        narrowed=args.narrowed,
    )


def _merge_durations(args: argparse.Namespace) -> int:
    from mlci.session import shards

    count, skipped = shards.merge(args.files, args.output)
    for line in skipped:
        print(f"mlci: warning: {line}", file=sys.stderr)
    written = ", ".join(map(str, args.output))
    print(f"mlci: {count} test durations from {len(args.files)} shards in {written}")
    return 0


def _test_map(args: argparse.Namespace) -> int:
    import dataclasses

    from mlci.session import test_map

    commit = args.commit if args.commit is not None else _head(args.root)
    try:
        found = test_map.from_coverage(args.coverage, args.root, commit=commit)
        if args.marker:
            marked = {args.marker: frozenset(found.tests)}
            found = dataclasses.replace(found, marker_tests=marked)
        for other in args.merge:
            found = test_map.merge(test_map.TestMap.load(other), found)
    except (OSError, ValueError) as err:
        raise ConfigError(f"test-map: {err}") from None
    found.dump(args.output)
    print(f"mlci: {len(found.tests)} tests and the files they ran in {args.output}")
    return 0


def _head(root: Path) -> str:
    """The commit checked out at `root`, or "" outside a git repository."""
    import subprocess

    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _select(args: argparse.Namespace) -> int:
    import datetime

    from mlci.ci import selection
    from mlci.session.test_map import TestMap

    try:
        changed = args.changed.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"select: cannot read --changed {args.changed}: {err}") from None
    try:
        found: TestMap | None = TestMap.load(args.map)
    except FileNotFoundError:
        found = None  # no map yet: everything runs, and the line says so
    except ValueError as err:
        raise ConfigError(f"select: {err}") from None
    decision = selection.decide(
        changed=[line.strip() for line in changed if line.strip()],
        test_map=found,
        now=datetime.datetime.now(datetime.timezone.utc),
        max_age=datetime.timedelta(days=args.max_age_days),
        event=args.event,
        always=args.always,
        selected_tests=frozenset(found.tests) if found else frozenset(),
        mode=args.mode,
        label=args.label,
    )
    print(f"mlci: {decision.reason}")
    if args.output is not None:
        tests = None if decision.tests is None else list(decision.tests)
        data = {"run": decision.run, "tests": tests, "reason": decision.reason}
        args.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


def _check_needs(args: argparse.Namespace) -> int:
    from mlci.session.summary import needs_verdict

    allowed = [job.strip() for job in args.allow_skipped.split(",") if job.strip()]
    ok, text = needs_verdict(args.needs or os.environ.get("MLCI_NEEDS", ""), allowed)
    print(text)
    return 0 if ok else 1


def _report(level: str, message: str) -> None:
    """One line on stderr; on GitHub Actions an annotation that also shows on the run page."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::{level} title=mlci::{message}", file=sys.stderr)
    else:
        print(f"mlci: {level}: {message}", file=sys.stderr)


def _flags(args: argparse.Namespace) -> dict[str, object]:
    return {option.name: getattr(args, option.name) for option in OPTIONS}


def _settings_values(settings: Settings) -> dict[str, Any]:
    from mlci.config.checks import redact

    values = {}
    for name, setting in settings.sources.items():
        value = list(setting.value) if isinstance(setting.value, tuple) else setting.value
        if name == "torch-index" and isinstance(value, str):
            value = redact(value)
        values[name] = {"value": value, "source": setting.describe()}
    return values


def _settings_lines(values: dict[str, Any]) -> str:
    return "\n".join(
        f"  {name:<20} {json.dumps(item['value']):<40} {item['source']}"
        for name, item in values.items()
    )


def _working_directory(flag: str | None) -> Path:
    """The project folder, from the flag or the environment (it cannot come from the
    project's own pyproject.toml), checked before anything is read from it."""
    from mlci.config.options import OptionError
    from mlci.config.settings import resolve_one

    try:
        setting = resolve_one(OPTIONS_BY_NAME["working-directory"], {"working-directory": flag})
    except OptionError as err:
        raise ConfigError(str(err)) from None
    return Path(str(setting.value))


def _installed_commit() -> str | None:
    """The commit this mlci was installed from, when it came from git (the CI templates)."""
    import importlib.metadata

    try:
        direct = importlib.metadata.distribution("mlci").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    commit = json.loads(direct or "{}").get("vcs_info", {}).get("commit_id")
    return str(commit) if commit else None


def _version_problems(expected: str | None) -> list[str]:
    """A release tag (v1.2.0) must match this mlci, a commit (the catalog component's own)
    the commit it was installed from; a branch name cannot be checked."""
    if expected and re.fullmatch(r"[0-9a-f]{40}", expected):
        commit = _installed_commit()
        if commit is None or commit == expected:
            return []
        return [
            f"mlci-version: the CI component asks for mlci at commit {expected[:12]} but mlci"
            f" from {commit[:12]} is installed"
        ]
    wanted = (expected or "").removeprefix("v")
    if not wanted or not wanted[:1].isdigit() or wanted == __version__:
        return []
    return [
        f"mlci-version: the CI template asks for mlci {expected} but mlci {__version__} is"
        " installed; pin the template and mlci-version to the same release"
    ]


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None


def _with_gitlab_event(settings: Settings) -> Settings:
    """GitLab has no single event name: gpu-select reads its predefined variables (none set,
    as outside GitLab, is no merge request: everything runs)."""
    import dataclasses

    from mlci.ci import gitlab_pipeline

    found, base = gitlab_pipeline.event(os.environ)
    return dataclasses.replace(settings, event=found, diff_base=settings.diff_base or base)


def _plan_text(plan: Plan, form: str) -> str:
    from mlci.ci import plan_output

    if form == "github":
        return plan_output.github(plan)
    if form == "gitlab":
        return plan_output.gitlab(plan)
    if form == "json":
        return json.dumps(plan_output.as_json(plan), indent=2) + "\n"
    return plan_output.table(plan)


def _plan(args: argparse.Namespace) -> int:
    from mlci.ci import gitlab_pipeline, plan_output
    from mlci.ci.planner import make_plan
    from mlci.config.settings import resolve

    problems: list[str] = _version_problems(args.expect_version)
    try:
        folder, readable = _working_directory(getattr(args, "working-directory")), True
    except ConfigError as err:
        # Reported with every other bad input; the project's own settings cannot be read.
        problems.extend(err.problems)
        folder, readable = Path.cwd(), False
    settings = resolve(
        folder, _flags(args), require_pyproject=False, problems=problems, read_project=readable
    )
    if args.format == "gitlab" and not settings.event:
        settings = _with_gitlab_event(settings)
    try:
        plan = make_plan(
            settings, problems, static_jobs=args.format == "gitlab", select=not args.no_select
        )
    except ConfigError as err:
        if args.summary is not None:
            lines = "".join(f"- {problem}\n" for problem in err.problems)
            _append(args.summary, f"### ❌ mlci plan rejected the inputs\n\n{lines}")
        raise
    if args.summary is not None:
        title = (
            "mlci plan, after gpu-select" if plan.selection or plan.unit_selection else "mlci plan"
        )
        _append(args.summary, f"### {title}\n\n```\n{plan_output.table(plan)}```\n")
    for warning in plan.warnings:
        _report("warning", warning)
    text = _plan_text(plan, args.format)
    if args.format == "gitlab" and args.gitlab_child is not None and settings.gpu_runner:
        _write(args.gitlab_child, gitlab_pipeline.child(plan, os.environ, text))
    explained = "\nsettings\n" + _settings_lines(_settings_values(settings)) + "\n"
    if args.output is not None:
        # The file gets the machine format; the log gets the table for people.
        _append(args.output, text)
        sys.stdout.write(plan_output.table(plan) + (explained if args.explain else ""))
    else:
        sys.stdout.write(text + (explained if args.explain else ""))
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from mlci.config.settings import resolve
    from mlci.session.sessions_report import describe
    from mlci.session.validation import check

    settings = resolve(args.project, _flags(args))
    choice = check(settings)
    report = describe(settings, choice)
    values = _settings_values(settings)
    for warning in (*settings.warnings, *choice.warnings):
        _report("warning", warning)
    if args.json:
        print(json.dumps({**report, "settings": values}, indent=2))
        return 0
    print(f"project  {settings.project.shown_name or '?'} ({settings.root})")
    print(f"installs {report['installs']}")
    print("\nsessions (run one with `nox -s NAME -- extra tool args`)")
    for row in report["sessions"]:
        when = "" if row["default"] else "  [only when asked]"
        print(f"  {row['session']:<12} python {row['python']:<5} torch {row['torch']:<5}{when}")
        for line in row["commands"]:
            print(f"      $ {line}")
    for name, why in report["left-out"].items():
        print(f"  {name:<12} left out: {why}")
    print("\nsettings")
    print(_settings_lines(values))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from mlci.envs import doctor

    report = doctor.collect()
    found = doctor.problems(report, require_gpu=args.require_gpu)
    if args.json:
        print(json.dumps({**report, "problems": found}, indent=2))
    else:
        print(doctor.render(report))
    for problem in found:
        print(f"mlci doctor: {problem}", file=sys.stderr)
    return 1 if found else 0


def _options(args: argparse.Namespace) -> int:
    from mlci.docs import options_json, options_table

    print(json.dumps(options_json(), indent=2) if args.format == "json" else options_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
