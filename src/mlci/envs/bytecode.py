"""Bytecode that survives a rebuilt environment.

Session environments are rebuilt from scratch (a CI job always starts without one), and the
first `import torch, lightning` after a rebuild compiles their bytecode again: ~9 s of a ~17 s
first unit run on 2 cores. So bytecode lives outside the environments, in one folder inside uv's
own cache (`PYTHONPYCACHEPREFIX`), and both CI front ends save and restore it with that cache.

A rebuilt environment installs fresh files with new mtimes, and Python's default pycs record
the source's mtime: restored, they would all be stale. After each session the pycs Python wrote
are sealed as checked-hash pycs (PEP 552): the header then holds a hash of the source instead
of its mtime, and Python checks that hash on import, so a restored pyc is used exactly when its
source is unchanged, whatever its mtime. Sealing only rewrites the header of a pyc that is
current (its recorded mtime and size match the source's, and the source is older than the pyc by
a second at least); the compiled code is kept as it is.
It costs a read and a hash per file (~1 s for torch's and Lightning's imported modules).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from mlci.envs import uv_cache

FOLDER = "mlci-bytecode"  # inside uv's cache folder: saved and restored with it
_TIMESTAMP = 0  # PEP 552 flags: 0 is a timestamp pyc; 0b11 a checked-hash one
_CHECKED_HASH = 0b11


def root() -> Path:
    """The folder every session environment writes its bytecode to (PYTHONPYCACHEPREFIX)."""
    return uv_cache.folder() / FOLDER


def mypy_cache(project: Path) -> Path:
    """mypy's cache for a project, beside the bytecode in uv's cache (MYPY_CACHE_DIR, which a
    `cache_dir` in the project's mypy configuration overrides): a restored one saves mypy
    checking torch's stubs again (~13 s on 2 cores). mypy checks each entry against its source
    (size, then mtime, then hash), so one restored for changed sources is only less useful."""
    digest = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:16]
    return uv_cache.folder() / "mlci-mypy" / digest


def _source_of(pyc: Path, prefix: Path, tag: str) -> Path | None:
    """`<prefix>/abs/dir/name.<tag>.pyc` -> `/abs/dir/name.py` (None for other files)."""
    suffix = f".{tag}.pyc"
    if not pyc.name.endswith(suffix):
        return None  # another Python's, or an optimized (.opt-1) one
    folder = Path(os.sep) / pyc.parent.relative_to(prefix)
    return folder / (pyc.name[: -len(suffix)] + ".py")


def seal(prefix: Path, folders: list[Path]) -> tuple[int, int]:
    """Rewrite this Python's current timestamp pycs of sources under `folders` as checked-hash
    pycs. Returns (sealed, already sealed). A stale or unreadable pyc is left for Python."""
    tag = sys.implementation.cache_tag
    magic = importlib.util.MAGIC_NUMBER
    sealed = kept = 0
    for folder in folders:
        mirror = prefix / Path(os.path.abspath(folder)).relative_to(Path(os.sep))
        if not mirror.is_dir():
            continue
        for pyc in mirror.rglob(f"*.{tag}.pyc"):
            source = _source_of(pyc, prefix, tag)
            try:
                data = pyc.read_bytes()
                if source is None or len(data) < 16 or data[:4] != magic:
                    continue
                flags = int.from_bytes(data[4:8], "little")
                if flags == _CHECKED_HASH:
                    kept += 1
                    continue
                if flags != _TIMESTAMP:
                    continue
                stat = source.stat()
                mtime = int.from_bytes(data[8:12], "little")
                size = int.from_bytes(data[12:16], "little")
                if (mtime, size) != (int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF):
                    continue  # stale: Python compiles it again on the next import
                if int(stat.st_mtime) >= int(pyc.stat().st_mtime):
                    # Source and pyc written in the same second: a same-size edit later in that
                    # second would pass the check above with the old code. Left timestamped.
                    continue
                digest = importlib.util.source_hash(source.read_bytes())
                header = magic + _CHECKED_HASH.to_bytes(4, "little") + digest
                partial = pyc.with_name(f"{pyc.name}.{os.getpid()}.tmp")
                partial.write_bytes(header + data[16:])
                os.replace(partial, pyc)  # a reader sees the old file or the new, never half
                sealed += 1
            except OSError:
                continue
    return sealed, kept


def prune(prefix: Path) -> int:
    """Remove the bytecode of folders that no longer exist (environments and projects in
    deleted temporary folders), so the prefix does not grow with every path ever used.
    Returns how many folders went. Walks folders only, never into a missing one."""
    removed = 0
    pending = [prefix]
    while pending:
        mirror = pending.pop()
        try:
            entries = [entry for entry in os.scandir(mirror) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for entry in entries:
            real = Path(os.sep) / Path(entry.path).relative_to(prefix)
            if real.is_dir():
                pending.append(Path(entry.path))
            else:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed


def main(argv: list[str] | None = None) -> int:
    """`python -m mlci.envs.bytecode PREFIX FOLDER...`, run by each session in its environment
    (the hash and the magic number are its Python's)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m mlci.envs.bytecode PREFIX FOLDER...", file=sys.stderr)
        return 2
    sealed, kept = seal(Path(args[0]), [Path(folder) for folder in args[1:]])
    gone = prune(Path(args[0]))
    print(
        f"mlci: bytecode: {sealed} pycs sealed by source hash, {kept} already were"
        + (f"; that of {gone} folders no longer there removed" if gone else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
