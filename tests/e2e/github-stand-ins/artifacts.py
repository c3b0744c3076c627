"""The artifact actions' documented behaviour that mlci relies on, for the act stand-ins.

upload-artifact and download-artifact (v4 and later) keep artifacts on GitHub's side; here they
live in MLCI_STANDIN_ARTIFACTS/<name>/. Each rule below quotes the line of the action's
README (or of @actions/artifact, which the actions use) that it mirrors; a stand-in more
forgiving than the real action would hide exactly the bugs the e2e tests exist to find.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

# @actions/artifact, path-and-artifact-name-validation: "Artifact name is not valid: ...
# Contains the following character: ..." for each of these.
INVALID_NAME = ['"', ":", "<", ">", "|", "*", "?", "\r", "\n", "\\", "/"]
WILDCARDS = set("*?[")


def store() -> Path:
    folder = os.environ.get("MLCI_STANDIN_ARTIFACTS")
    if not folder:
        sys.exit("::error::artifact stand-ins need MLCI_STANDIN_ARTIFACTS")
    return Path(folder)


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _files(root: Path, include_hidden: bool) -> list[Path]:
    """upload-artifact README: "With `v4.4` and later, hidden files are excluded by default."
    and include-hidden-files: "Whether to include hidden files in the provided path in the
    artifact." (@actions/glob's excludeHiddenFiles drops any file or folder named `.*`.)"""
    if not include_hidden and _hidden(root):
        return []
    if root.is_file():
        return [root]
    found = []
    for folder, subfolders, names in os.walk(root):
        if not include_hidden:
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [Path(folder, name) for name in names if include_hidden or name[0] != "."]
    return found


def upload(name: str, path: str, if_none: str, include_hidden: bool) -> int:
    bad = [char for char in INVALID_NAME if char in name]
    if bad:
        print(
            f"::error::Artifact name is not valid: {name}."
            f" Contains the following character: {bad[0]!r}"
        )
        return 1
    dest = store() / name
    if dest.exists():
        # "Artifact names must be unique since each created artifact is idempotent so multiple
        # jobs cannot modify the same artifact."
        print(
            "::error::Failed to CreateArtifact: (409) Conflict: an artifact with this name"
            " already exists on the workflow run"
        )
        return 1
    if any(char in path for char in WILDCARDS):
        # "If a wildcard pattern is used, the path hierarchy will be preserved after the first
        # wildcard pattern"
        prefix = path[: min(path.index(c) for c in WILDCARDS if c in path)]
        base = Path(prefix if prefix.endswith("/") else os.path.dirname(prefix) or ".")
        matches = [Path(match) for match in sorted(glob.glob(path, recursive=True))]
    else:
        base = Path(path) if Path(path).is_dir() else Path(path).parent
        matches = [Path(path)] if Path(path).exists() else []
    files = sorted({file for match in matches for file in _files(match, include_hidden)})
    if not files:
        # "If a path (or paths), result in no files being found for the artifact, the action
        # will succeed but print out a warning." (if-no-files-found: warn, error or ignore)
        message = (
            f"No files were found with the provided path: {path}. No artifacts will be uploaded."
        )
        if if_none == "error":
            print(f"::error::{message}")
            return 1
        if if_none != "ignore":
            print(f"::warning::{message}")
        return 0
    for file in files:
        target = dest / file.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target)
    print(f"upload-artifact stand-in: {len(files)} file(s) from {path} as {name}")
    return 0


def download(name: str, pattern: str, path: str, merge: bool) -> int:
    # path: "Destination path. Supports basic tilde expansion. Defaults to $GITHUB_WORKSPACE"
    dest = Path(os.path.expanduser(path or os.environ.get("GITHUB_WORKSPACE", ".")))
    artifacts = store()
    if name:
        # name given: the artifact's files land in `path` itself.
        if not (artifacts / name).is_dir():
            print(f"::error::Unable to download artifact(s): Artifact not found for name: {name}")
            return 1
        shutil.copytree(artifacts / name, dest, dirs_exist_ok=True)
        print(f"download-artifact stand-in: {name} -> {dest}")
        return 0
    # pattern: "A glob pattern matching the artifacts that should be downloaded." merge-multiple:
    # "If false, the downloaded artifacts will be extracted into individual named directories
    # within the specified path."
    found = sorted(folder for folder in artifacts.glob(pattern or "*") if folder.is_dir())
    for folder in found:
        target = dest if merge else dest / folder.name
        shutil.copytree(folder, target, dirs_exist_ok=True)
        print(f"download-artifact stand-in: {folder.name} -> {target}")
    print(f"Total of {len(found)} artifact(s) downloaded")
    return 0


def main() -> int:
    env = os.environ
    if sys.argv[1] == "upload":
        return upload(
            env["NAME"], env["SOURCE"].strip(), env["IF_NONE"], env["HIDDEN"].strip() == "true"
        )
    return download(env["NAME"], env["PATTERN"], env["DEST"], env["MERGE"].strip() == "true")


if __name__ == "__main__":
    sys.exit(main())
