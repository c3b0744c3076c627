"""The GitLab CI/CD Catalog components under templates/, generated from ci-templates/gitlab/.

One source of truth: the include templates. A component differs only where the catalog
changes things: its header shows the `include: component:` form, and mlci.yml installs the
mlci of the component's own commit (`$[[ component.sha ]]`, GitLab 18.7+) instead of taking
an `mlci-version` input. `test_gitlab_files.py` fails when templates/ drifts;
`python -m tests.components` rewrites it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "ci-templates" / "gitlab"
TARGET = ROOT / "templates"
NAMES = ("mlci", "mlci-gpu", "merge-request-pipelines")

HEADER = """\
# mlci ({name}.yml) as a GitLab CI/CD Catalog component. Generated from
# ci-templates/gitlab/{name}.yml by `python -m tests.components`: edit that file, not this one.
#
#   include:
#     - component: $CI_SERVER_FQDN/acme/mlci/{name}@v0.1.0
{inputs}#
# It is the include template of the same name, except that mlci.yml installs the mlci of the
# component's own commit. The include form, `include: project:`, is in the README.
"""
INPUTS = {
    "mlci": '#       inputs:\n#         python-versions: ["3.11", "3.12"]\n',
    "mlci-gpu": "#       inputs:\n#         gpu-runner: [gpu]\n",
    "merge-request-pipelines": "",
}
VERSION_INPUT = re.compile(r"    mlci-version:\n(      .*\n)+")


def render(name: str) -> str:
    """The component `name`, from its include template."""
    text = (SOURCE / f"{name}.yml").read_text()
    if text.lstrip().startswith("#"):
        first_code = re.search(r"^(?!#)", text, re.M)
        assert first_code is not None
        text = text[first_code.start() :]
    header = HEADER.format(name=name, inputs=INPUTS[name])
    if name == "merge-request-pipelines":
        return header + text  # no inputs, so no spec header
    if name == "mlci":
        text = text.replace("spec:\n  inputs:\n", "spec:\n  component: [sha]\n  inputs:\n", 1)
        text, count = VERSION_INPUT.subn("", text, count=1)
        assert count == 1, "mlci.yml has no mlci-version input"
        text = text.replace(
            "MLCI_VERSION: $[[ inputs.mlci-version ]]",
            "MLCI_VERSION: $[[ component.sha ]]  # the component's own commit",
        )
    return header + text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in NAMES:
        path = TARGET / f"{name}.yml"
        wanted = render(name)
        if path.is_file() and path.read_text() == wanted:
            continue
        stale.append(path.name)
        if not check:
            path.parent.mkdir(exist_ok=True)
            path.write_text(wanted)
    if check and stale:
        print(f"templates/ is stale: {', '.join(stale)}; run `python -m tests.components`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
