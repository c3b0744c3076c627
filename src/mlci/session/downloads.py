"""What tests download (model weights, data sets), kept in one folder that CI caches.

Hub rate limits stop CI runs, and a model fetched on every run costs minutes. With
`downloads-key` naming a file the project keeps (a list of model ids, say), the test sessions
send the Hugging Face Hub's and torch.hub's downloads to `.mlci-downloads/` in the project
(HF_HUB_CACHE, HF_DATASETS_CACHE, TORCH_HOME, unless the environment already places those
caches; HF_HOME, and the token kept there, stay where they are; `MLCI_DOWNLOADS` names the
folder for anything else), and both CI front ends cache that folder, keyed by the
file.

Whether a restored folder holds everything: a green test session writes the hash of the key
file into the folder, for that session (unit's tests may download less than integ's). When the
same session finds that same hash, the folder is what a green run of it with this very list
left, so the Hugging Face clients run offline (HF_HUB_OFFLINE=1 and the like) and make no
network call. Only when their caches are in the folder: a cache placed elsewhere by the
environment is not the folder's to vouch for. Any other run stays online, and every run says
what it fetched and how much, so a download the list misses shows up in the log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FOLDER = ".mlci-downloads"
STAMP = ".mlci-key"  # the hash of the key file, written by a green test session
# Where each client downloads, set through its own variable (its default is the user's home).
CLIENT_HOMES = {
    "HF_HUB_CACHE": "huggingface/hub",
    "HF_DATASETS_CACHE": "huggingface/datasets",
    "TORCH_HOME": "torch",
}
# Variables that place the Hugging Face caches elsewhere (HF_HUB_CACHE's older name included).
HF_PLACES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE")
# What makes those clients use their cache and never the network.
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass(frozen=True)
class Downloads:
    """One session's view of the folder: its variables, and whether it runs offline."""

    folder: Path
    key_file: Path
    digest: str
    offline: bool
    variables: dict[str, str]
    before: dict[str, int]

    def fetched(self) -> dict[str, int]:
        """What came in since the session started: bytes per model, data set or file."""
        now = listing(self.folder)
        got: dict[str, int] = {}
        for name, size in now.items():
            if self.before.get(name) != size and not name.endswith(_BOOKKEEPING):
                label = _label(name)
                got[label] = got.get(label, 0) + size
        return dict(sorted(got.items()))

    def report(self) -> str:
        """One line for the session's log."""
        where = f"{FOLDER}/"
        if self.offline:
            head = (
                f"mlci: downloads: offline, the cache in {where} matches {self.key_file.name}"
                " (list a new download there to fetch it)"
            )
        else:
            head = f"mlci: downloads: online, {where} not yet filled for this {self.key_file.name}"
        got = self.fetched()
        if not got:
            return f"{head}; nothing fetched"
        shown = ", ".join(f"{label} ({_size(size)})" for label, size in list(got.items())[:5])
        more = f" and {len(got) - 5} more" if len(got) > 5 else ""
        return f"{head}; fetched {_size(sum(got.values()))}: {shown}{more}"

    def complete(self, session: str) -> None:
        """After a green session: the folder holds what its tests need for this key file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamps = _stamps(self.folder)
        stamps[session] = self.digest
        (self.folder / STAMP).write_text(json.dumps(stamps, indent=1, sort_keys=True) + "\n")


def _stamps(folder: Path) -> dict[str, str]:
    """session -> hash of the key file its last green run had."""
    try:
        found = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def prepare(
    root: Path, key: str, session: str, environ: Mapping[str, str] | None = None
) -> Downloads:
    """The folder's variables for a test session of the project at `root`."""
    env = os.environ if environ is None else environ
    folder = root / FOLDER
    key_file = root / key
    digest = hashlib.sha256(key_file.read_bytes()).hexdigest()
    placed_elsewhere = any(env.get(name) for name in HF_PLACES)
    offline = _stamps(folder).get(session) == digest and not placed_elsewhere
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Written by mlci: what tests downloaded, cached by CI.\n*\n")
    variables = {"MLCI_DOWNLOADS": str(folder)}
    for name, sub in CLIENT_HOMES.items():
        if name.startswith("HF_") and placed_elsewhere:
            continue  # the runner's own Hugging Face places win, all of them
        if not env.get(name):  # the project's or the runner's own setting wins
            variables[name] = str(folder / sub)
    if offline:
        variables.update(OFFLINE)
    return Downloads(folder, key_file, digest, offline, variables, listing(folder))


def listing(folder: Path) -> dict[str, int]:
    """Every file under the folder (mlci's own left out), with its size."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.rglob("*"):
        if path.name in (STAMP, ".gitignore"):
            continue
        try:
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(folder))] = path.stat().st_size
        except OSError:
            continue  # a download in progress in another session, gone meanwhile
    return found


# The hub cache's own files: locks, its cache-folder tag; no download of the tests.
_BOOKKEEPING = (".lock", "CACHEDIR.TAG")
_HUB_REPO = re.compile(r"huggingface/hub/(models|datasets|spaces)--([^/]+)/")


def _label(name: str) -> str:
    """What a file in the folder belongs to: `acme/tiny` for a hub repository's files, else
    the file's own path."""
    found = _HUB_REPO.match(name)
    if found:
        kind = "" if found[1] == "models" else f"{found[1][:-1]} "
        return kind + found[2].replace("--", "/", 1)
    return name


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
