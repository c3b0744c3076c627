"""Hostile input values, one table for the three entry points: the `mlci` command, the GitHub
workflow (through act) and the GitLab template (through gitlab-ci-local).

Each value must be rejected with a message naming the input, or passed on as inert data; none
may run. The command payloads try to create `marker`, so a test can tell if one ran.
"""

from __future__ import annotations

from pathlib import Path

from mlci.config.option_table import OPTIONS
from mlci.config.options import MAX_CHARS

# The inputs every entry point shares: the options the CI front ends pass on.
CI_OPTIONS = tuple(option for option in OPTIONS if option.ci)


def payloads(marker: Path) -> dict[str, str]:
    return {
        "command substitution": f"$(touch {marker})",
        "backticks": f"`touch {marker}`",
        "command separator": f"3.11; touch {marker}",
        "pipe and redirection": f"x | tee {marker} > {marker}",
        "GitHub expression": "${{ github.token }}",
        "GitLab interpolation": "$[[ inputs.image ]]",
        "newline into GITHUB_ENV/GITHUB_OUTPUT": "3.11\nMLCI_INJECTED=1",
        "very long value": "3" * (MAX_CHARS * 10),
    }
