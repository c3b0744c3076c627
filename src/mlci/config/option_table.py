"""Every mlci setting, defined once as data.

The settings are read from this table (`settings.py`), the `mlci` flags are built from it, the
README's option table is generated from it, and the CI input lists are checked against it. A
setting is looked up, highest precedence first, in: a command-line flag or CI input, the
`MLCI_<NAME>` environment variable, `[tool.mlci]` in pyproject.toml, then the default below.
"""

from __future__ import annotations

from mlci.config import checks
from mlci.config.options import Option

# What `sessions` may name, in the order they run (the registry defines each; a test keeps
# the two equal; a session another implies, like coverage, is chosen with it).
SESSION_NAMES = ("lint", "mypy", "unit", "integ", "nbmake", "gpu")

OPTIONS: tuple[Option, ...] = (
    Option(
        "package",
        "str",
        "",
        "Import name of the package under test (coverage, pylint and mypy target).",
        default_doc="`[project].name` with `-` as `_`",
        check=checks.package,
    ),
    Option(
        "python-versions",
        "list",
        (),
        "Python versions the `unit` session runs on; the first one runs the other sessions.",
        default_doc="the Python running nox",
        check=checks.pythons,
        ci=True,
    ),
    Option(
        "sessions",
        "list",
        SESSION_NAMES,
        "Sessions to run. Unset: every session that has something to check in this project"
        " (`mlci sessions` says which were left out and why); listed: each must have something"
        " to check. `gpu` runs only when asked for (`nox -s gpu`, or a `gpu-runner` in CI).",
        default_doc="those with something to check",
        check=checks.one_of(SESSION_NAMES),
        ci=True,
    ),
    Option(
        "torch-backend",
        "str",
        "cpu",
        "Torch build for the CPU sessions: `cpu`, or `none` for a project that does not use torch.",
        check=checks.backend,
        ci=True,
    ),
    Option(
        "gpu-backends",
        "list",
        (),
        "CUDA builds of torch for the `gpu` job, one job each; locally the first one is used.",
        default_doc="the build PyPI's torch uses (`cu130` for torch 2.14)",
        check=checks.gpu_backends,
        ci=True,
    ),
    Option(
        "gpu-torch",
        "str",
        "build",
        "`build`: the gpu session installs the CUDA build of torch for its backend; `image`: it"
        " uses the CUDA torch the GPU image already has (NGC, pytorch/pytorch), in an environment"
        " layered over that Python that leaves the image unchanged; one gpu leg per image (in"
        " CI the job's image; locally only the interpreter MLCI_IMAGE_PYTHON names).",
        check=checks.choice(("build", "image")),
        ci=True,
    ),
    Option(
        "torch-version",
        "str",
        "",
        "torch release the CI matrix is checked against (its Python versions and CUDA builds).",
        default_doc="the newest release mlci knows",
        check=checks.torch_version,
        ci=True,
    ),
    Option(
        "runner",
        "list",
        (),
        "Runner for the CPU jobs: GitHub `runs-on` labels, GitLab runner tags. CI input only.",
        default_doc='GitHub: `["ubuntu-latest"]`; GitLab: no tags',
        check=checks.labels,
        ci=True,
        project=False,
    ),
    Option(
        "gpu-runner",
        "list",
        (),
        "Runner for the GPU job: GitHub `runs-on` labels, GitLab runner tags. No GPU job"
        " without it. CI input only.",
        default_doc="none: no GPU job",
        check=checks.labels,
        ci=True,
        project=False,
    ),
    Option(
        "gpu-container",
        "str",
        "",
        "GitHub: a container image the GPU legs run in, started with `--gpus all` (it needs bash"
        " and git). GitLab jobs always run in an image: `gpu-image` of mlci-gpu.yml. CI input"
        " only.",
        default_doc="none: on the runner itself",
        check=checks.image,
        ci=True,
        project=False,
    ),
    Option(
        "gpu-runner-ephemeral",
        "bool",
        False,
        "GitHub: the GPU runner is thrown away after each job, so gpu-torch = image may use its"
        " own Python without a gpu-container. CI input only.",
        ci=True,
        project=False,
    ),
    Option(
        "call-id",
        "str",
        "",
        "GitHub: tells apart two calls of the workflow in one run (concurrency group, artifact"
        " and cache names), e.g. two projects of a monorepo. CI input only.",
        default_doc="the working directory",
        check=checks.label,
        ci=True,
        project=False,
    ),
    Option(
        "working-directory",
        "str",
        ".",
        "Folder of the project inside the repository (where its pyproject.toml is).",
        check=checks.relative_folder,
        ci=True,
    ),
    Option(
        "torch-index",
        "str",
        "",
        "Where torch comes from instead of PyTorch's index for the backend: a PEP 503 index URL"
        " (a mirror; https, or http with `allow-insecure-index`) or a local folder of wheels"
        " (air-gapped sites). Used for torch and its CUDA packages only. A user name and"
        " password in the URL are never printed.",
        default_doc="`https://download.pytorch.org/whl/<backend>`",
        check=checks.index,
        ci=True,
    ),
    Option(
        "allow-insecure-index",
        "bool",
        False,
        "Accept a plain `http://` torch-index (a mirror on a trusted network): packages and"
        " credentials then travel unencrypted.",
    ),
    Option(
        "extras",
        "list",
        (),
        "Extras of the project installed into every session (`pip install -e .[extra]`).",
        check=checks.names,
    ),
    Option(
        "dependency-groups",
        "list",
        (),
        "PEP 735 dependency groups of the project installed into every session.",
        check=checks.names,
    ),
    Option(
        "resolution",
        "str",
        "locked",
        "`locked`: with a `uv.lock`, every session installs exactly its versions (torch's build"
        " swapped for the job's), and a lock out of date with pyproject.toml fails at once;"
        " `newest`: resolve afresh, ignoring the lock (a scheduled job that tries the newest"
        " versions).",
        check=checks.choice(("locked", "newest")),
        ci=True,
    ),
    Option(
        "requirements",
        "list",
        (),
        "Requirements files installed into every session with the project (`-r`), e.g."
        " `requirements-dev.txt`, for projects that keep dependencies there (setup.py"
        " projects); their content rebuilds the environment when it changes.",
        check=checks.relative_files,
    ),
    Option(
        "constraints",
        "list",
        (),
        "Constraints files (`-c`) every session installs under: pinned versions for projects"
        " without a `uv.lock`.",
        check=checks.relative_files,
    ),
    Option(
        "coverage-fail-under",
        "number",
        80.0,
        "`unit` fails when the package's coverage is below this percentage: coverage.py's total,"
        " lines and branches together when branch coverage is on (as `coverage report` counts).",
        default_doc="`fail_under` of your coverage config, else 80",
        check=checks.percent,
        ci=True,
    ),
    Option(
        "coverage-margin",
        "number",
        1.0,
        "Points `mlci init --measure` leaves between the coverage it measured and the"
        " `coverage-fail-under` it records, so that a rerun measuring a little less (another"
        " Python, a timing branch) stays green and a real drop does not.",
        check=checks.percent,
    ),
    Option(
        "pylint-fail-under",
        "number",
        10.0,
        "`lint` fails when pylint's score of the package is below this (0-10); `mlci init"
        " --measure` sets it to the score the code has today, so only a worse score fails.",
        default_doc="`fail-under` of your pylint config, else 10",
        check=checks.score,
    ),
    Option(
        "pylint-baseline",
        "str",
        "",
        "A file of the pylint messages the code has today (written by `mlci init --measure`):"
        " `lint` fails on new messages only, wherever a known one moved; fixed ones leave the"
        " file. `pylint-fail-under` is then a floor only where you set it.",
        check=checks.relative_path,
    ),
    Option(
        "mypy-baseline",
        "str",
        "",
        "A file of mypy errors the code has today (written by `mlci init --measure`, with"
        " mypy-baseline): `mypy` fails on new errors only. Empty: every error fails.",
        check=checks.relative_path,
    ),
    Option(
        "xdist-workers",
        "str",
        "0",
        "pytest-xdist workers for `unit`: `0` (off), a number, or `auto`. Each worker imports"
        " torch (~4 s), so only long suites gain.",
        check=checks.workers,
    ),
    Option(
        "testmon",
        "bool",
        False,
        "Run only the unit tests affected by the change (pytest-testmon); coverage is not"
        " enforced then, since only some tests run. In CI each unit job keeps testmon's data"
        " (`.testmondata`) from one run to the next in the cache.",
        ci=True,
    ),
    Option(
        "unit-shards",
        "int",
        1,
        "Split each Python's `unit` into this many CI jobs (1-64), balanced by the durations"
        " the shards record (pytest-split) and carry between runs in the CI cache; a `coverage`"
        " job combines their coverage and applies `coverage-fail-under` to the whole.",
        check=checks.shards,
        ci=True,
    ),
    Option(
        "shard",
        "str",
        "",
        "Run one shard of `unit`: `2/3` (the CI jobs set it; locally `MLCI_SHARD=2/3 nox -s"
        " unit-3.11`). A shard never fails on coverage: the `coverage` job judges the whole.",
        check=checks.shard,
        project=False,
    ),
    Option(
        "test-timeout",
        "int",
        600,
        "Seconds one test may run in `unit`, `integ` and `gpu` (pytest-timeout) before it fails,"
        " named, instead of hanging until the job's limit; 0 turns it off.",
        default_doc="`timeout` of your pytest config, else 600",
        check=checks.at_least_zero,
    ),
    Option(
        "flake-finder",
        "int",
        0,
        "Run each unit test this many times (pytest-repeat) and name, in one line, the tests"
        " whose outcome changed from one run to the next: `MLCI_FLAKE_FINDER=20 nox -s"
        " unit-3.11 -- tests/test_train.py`. Coverage is not enforced then. 0: each test once.",
        check=checks.at_least_zero,
    ),
    Option(
        "flaky-reruns",
        "int",
        0,
        "Rerun a failed test in `unit`, `integ` and `gpu` up to this many times"
        " (pytest-rerunfailures). One that fails and then passes is reported as flaky, never as"
        " a plain pass: in the session's log, the JUnit report, the CI summaries and"
        " `mlci-reports/<session>/flaky.json`. 0: no reruns.",
        check=checks.at_least_zero,
    ),
    Option(
        "quarantine",
        "str",
        "",
        "A TOML file of quarantined tests (`[[test]]` with `id`, `reason`, `until`): they run and"
        " are reported, their failures do not fail the session, and once `until` has passed the"
        " session fails until the test is fixed or the date extended.",
        check=checks.relative_path,
    ),
    Option(
        "quarantine-ready-after",
        "int",
        20,
        "A quarantined test that passed this many runs in a row (counted per session in"
        " `.mlci-carry/`, which CI carries from run to run) is reported as ready to leave.",
        check=checks.positive,
    ),
    Option(
        "integ-marker",
        "str",
        "integ",
        "The pytest marker of the project's integration tests: `integ` runs `pytest -m <it>`,"
        " `unit` leaves them out (e.g. `integration`).",
        check=checks.marker,
    ),
    Option(
        "gpu-marker",
        "str",
        "gpu",
        "The pytest marker of the project's GPU tests: the `gpu` session runs them, every other"
        " session leaves them out (e.g. `cuda`).",
        check=checks.marker,
    ),
    Option(
        "exclude-markers",
        "list",
        (),
        "More markers whose tests `unit` leaves out, besides the integ and gpu markers (e.g."
        " `slow`, `network`). Unit's marker expression is joined to a `-m` in your pytest"
        " addopts with `and`, never in its place.",
        check=checks.markers,
    ),
    Option(
        "gpu-select",
        "str",
        "off",
        "On a pull request, run the gpu job only when the change can reach a gpu test: `all`"
        " decides from the test map (which project files each test ran, recorded by `unit` and"
        " `gpu` on the default branch) and runs every gpu test or none, with the reason in the"
        " plan; `off` always runs it. Dependencies, configuration, conftest.py, non-Python"
        " files, new modules and a missing or old map run it.",
        check=checks.choice(("off", "all")),
    ),
    Option(
        "unit-select",
        "str",
        "all",
        "On a pull request, run only the unit test files the change can reach: `affected`"
        " decides from the test map as `gpu-select` does (the same rules run everything), and a"
        " change no unit test reaches skips unit, with the reason in the plan. Such a run has no"
        " coverage gate (it is part of the tests); `all` runs every unit test.",
        check=checks.choice(("all", "affected")),
    ),
    Option(
        "unit-tests",
        "str",
        "",
        "The unit test files `unit-select` chose (comma-separated), or `none`; the CI jobs set"
        " it from the plan. Empty runs them all.",
        check=checks.unit_tests,
        project=False,
    ),
    Option(
        "select-always",
        "list",
        (),
        "Paths (globs, `**` for any depth) whose change always runs the gpu job under"
        " `gpu-select`, for files the tests read that no map can see.",
        check=checks.globs,
    ),
    Option(
        "test-map-max-age-days",
        "number",
        14.0,
        "Under `gpu-select`, a test map recorded longer ago than this runs everything.",
        check=checks.positive_number,
    ),
    Option(
        "event",
        "str",
        "",
        "What started the CI run (GitHub's event name; the GitHub workflow sets it; on GitLab"
        " `mlci plan --format gitlab` reads GitLab's variables, a merge request pipeline being"
        " `pull_request`): only on `pull_request` may `gpu-select` leave the gpu job out; a"
        " push, a tag, a schedule, a merge queue (`merge_group`), a merge train or a manual run"
        " runs everything.",
        check=checks.label,
        project=False,
    ),
    Option(
        "diff-base",
        "str",
        "",
        "The git revision a pull request's change is measured from (`git diff --name-only"
        " BASE HEAD`; the GitHub workflow sets it to `HEAD^1`, the merge commit's base; on"
        " GitLab it is the merge request's merge base); unset, `gpu-select` runs everything.",
        check=checks.revision,
        project=False,
    ),
    Option(
        "cache-budget-gb",
        "number",
        10.0,
        "`mlci plan` warns when the CI caches one call of the workflow saves (uv's cache per"
        " Python and torch build, estimated) come to more than this many GB: GitHub keeps 10 GB"
        " per repository and evicts the oldest entries beyond it.",
        check=checks.positive_number,
    ),
    Option(
        "downloads-key",
        "str",
        "",
        "A file listing what the tests download (model ids, data sets). Set: test sessions send"
        " Hugging Face Hub and torch.hub downloads to `.mlci-downloads/` (`MLCI_DOWNLOADS` names"
        " it for others), both CI front ends cache that folder keyed by this file, and a run"
        " whose cache a green run left for this same file runs those clients offline.",
        default_doc="none: downloads go where the clients put them, uncached",
        check=checks.relative_path,
    ),
    Option(
        "tests-dir",
        "str",
        "tests",
        "Folder of the project's tests.",
        check=checks.relative_folder,
    ),
    Option(
        "notebooks",
        "str",
        "notebooks",
        "Folder whose notebooks `nbmake` executes (every `*.ipynb` under it).",
        check=checks.relative_folder,
    ),
    Option(
        "notebook-timeout",
        "int",
        600,
        "Seconds one notebook cell may run in `nbmake`; a cell that runs longer fails the session.",
        check=checks.positive,
    ),
)

OPTIONS_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
