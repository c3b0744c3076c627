"""The one exception for user mistakes: printed as one line per problem, never a traceback."""

from __future__ import annotations


class ConfigError(Exception):
    """User mistakes in the settings or the project, one sentence each."""

    def __init__(self, *problems: str, warnings: tuple[str, ...] = ()) -> None:
        unique = list(dict.fromkeys(problems))  # one check may be reached by two paths
        super().__init__("; ".join(unique))
        self.problems = unique
        self.warnings = warnings
