"""actions/cache's documented behaviour that mlci relies on, for the act stand-ins.

Entries live in MLCI_STANDIN_CACHE/<key>/ with the cached path and a record of the ref that
saved it and the paths given. Each rule quotes the line of actions/cache's docs (README,
restore/README.md, or GitHub's "Caching dependencies" page) that it mirrors.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def _store() -> Path:
    folder = os.environ.get("MLCI_STANDIN_CACHE")
    if not folder:
        sys.exit("::error::cache stand-ins need MLCI_STANDIN_CACHE")
    return Path(folder)


def _output(name: str, value: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        out.write(f"{name}={value}\n")


def _ref() -> str:
    return os.environ.get("GITHUB_REF", "refs/heads/main")


def _default_ref() -> str:
    return "refs/heads/" + os.environ.get("MLCI_STANDIN_DEFAULT_BRANCH", "main")


def _entries(path: str) -> list[tuple[str, float, str]]:
    """(key, time saved, ref) of the entries this job may restore.

    "workflow runs can restore caches created in either the current branch or the default
    branch" (Caching dependencies: restrictions for accessing a cache), and the entry's
    version is computed from its paths: "the cache version ... is a combination of the
    paths and compression tool", so an entry saved with other paths never matches.
    """
    found = []
    for meta in _store().glob("*/entry.json"):
        record = json.loads(meta.read_text())
        if record["path"] == path and record["ref"] in (_ref(), _default_ref()):
            found.append((record["key"], float(record["time"]), record["ref"]))
    return found


def restore(path: str, key: str, prefixes: list[str], lookup_only: bool, fail: bool) -> int:
    entries = _entries(path)
    # "restore-keys - An ordered list of prefix-matched keys to use for restoring stale cache
    # if no cache hit occurred for key." The current branch is searched before the default
    # branch, and the newest entry of a prefix wins.
    ranked = sorted(entries, key=lambda e: (e[2] != _ref(), -e[1]))
    matched = next((e[0] for e in ranked if e[0] == key), "")
    for prefix in prefixes if not matched else []:
        matched = next((e[0] for e in ranked if e[0].startswith(prefix)), "")
        if matched:
            break
    # "cache-hit - A boolean value to indicate an exact match was found for the key."
    _output("cache-hit", "true" if matched == key else "false")
    _output("cache-primary-key", key)
    # "cache-matched-key - Key of the cache that was restored, it could either be the primary
    # key on cache-hit or a partial/complete match of one of the restore keys."
    _output("cache-matched-key", matched)
    if not matched:
        if fail:
            # "fail-on-cache-miss - Fail the workflow if cache entry is not found."
            print(
                "::error::Failed to restore cache entry. Exiting as fail-on-cache-miss is set."
                f" Input key: {key}"
            )
            return 1
        print(f"Cache not found for input keys: {', '.join([key, *prefixes])}")
        return 0
    if lookup_only:
        # "lookup-only - If true, only checks if cache entry exists and skips download."
        print(f"Cache found and can be restored from key: {matched}")
        return 0
    saved = _store() / matched / "data"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if saved.is_dir():
        shutil.copytree(saved, target, dirs_exist_ok=True)
    else:
        shutil.copy2(saved, target)
    print(f"Cache restored from key: {matched}")
    return 0


def save(path: str, key: str) -> int:
    source = Path(path)
    if not source.exists():
        print(
            "::warning::Path Validation Error: Path(s) specified in the action for caching"
            " do(es) not exist, hence no cache is being saved."
        )
        return 0
    entry = _store() / key
    if entry.exists():
        # Entries are immutable: "Unable to reserve cache with key ..., another job may be
        # creating this cache" / "Failed to save: ... already exists".
        print(
            f"::warning::Failed to save: Unable to reserve cache with key {key},"
            " another job may be creating this cache."
        )
        return 0
    entry.mkdir(parents=True)
    if source.is_dir():
        shutil.copytree(source, entry / "data")
    else:
        shutil.copy2(source, entry / "data")
    record = {"key": key, "path": path, "ref": _ref(), "time": time.time()}
    (entry / "entry.json").write_text(json.dumps(record))
    print(f"Cache saved with key: {key}")
    return 0


def main() -> int:
    env = os.environ
    path, key = env["SAVED"].strip(), env["KEY"].strip()
    if sys.argv[1] == "save":
        return save(path, key)
    prefixes = [line.strip() for line in env.get("PREFIX", "").splitlines() if line.strip()]
    truthy = ("true", "True")
    return restore(
        path, key, prefixes, env.get("LOOKUP", "") in truthy, env.get("FAIL", "") in truthy
    )


if __name__ == "__main__":
    sys.exit(main())
