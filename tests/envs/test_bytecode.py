"""Sealed bytecode: a pyc survives a reinstall that changes only mtimes, and never outlives a
changed source. Real imports by a child Python, with PYTHONPYCACHEPREFIX as sessions set it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.envs import bytecode, uv_cache

TAG = sys.implementation.cache_tag


def import_it(prefix: Path, folder: Path, name: str) -> str:
    """Import `name` from `folder` in a fresh Python; what its VALUE is."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {name}; print({name}.VALUE)"],
        cwd=folder,
        env={**os.environ, "PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def pyc_of(prefix: Path, source: Path) -> Path:
    return prefix / source.parent.relative_to(Path(os.sep)) / f"{source.stem}.{TAG}.pyc"


def written(source: Path, text: str) -> None:
    """Write a source as an install leaves it: well before its pyc is compiled."""
    source.write_text(text)
    stat = source.stat()
    os.utime(source, (stat.st_atime - 10, stat.st_mtime - 10))


def reinstalled(source: Path) -> None:
    """What a rebuilt environment does to an unchanged file: same bytes, a new mtime."""
    stat = source.stat()
    os.utime(source, (stat.st_atime + 1000, stat.st_mtime + 1000))


def test_a_sealed_pyc_is_used_after_a_reinstall_and_a_plain_one_is_not(tmp_path: Path) -> None:
    prefix = tmp_path / "bytecode"
    sealed_src, plain_src = tmp_path / "a" / "sealed_mod.py", tmp_path / "b" / "plain_mod.py"
    for source in (sealed_src, plain_src):
        source.parent.mkdir()
        written(source, "VALUE = 'one'\n")
        assert import_it(prefix, source.parent, source.stem) == "one"
    # Only this Python's current pycs under the folders given; a second seal finds them done.
    assert bytecode.seal(prefix, [sealed_src.parent]) == (1, 0)
    assert bytecode.seal(prefix, [sealed_src.parent]) == (0, 1)
    sealed_before = pyc_of(prefix, sealed_src).read_bytes()
    plain_before = pyc_of(prefix, plain_src).read_bytes()
    assert int.from_bytes(sealed_before[4:8], "little") == 0b11  # checked hash (PEP 552)
    assert int.from_bytes(plain_before[4:8], "little") == 0  # a timestamp pyc
    for source in (sealed_src, plain_src):
        reinstalled(source)
        assert import_it(prefix, source.parent, source.stem) == "one"
    assert pyc_of(prefix, sealed_src).read_bytes() == sealed_before  # used as it was
    assert pyc_of(prefix, plain_src).read_bytes() != plain_before  # compiled again


def test_a_sealed_pyc_never_outlives_a_changed_source(tmp_path: Path) -> None:
    prefix, site = tmp_path / "bytecode", tmp_path / "site"
    site.mkdir()
    source = site / "changing.py"
    written(source, "VALUE = 'one'\n")
    import_it(prefix, site, "changing")
    assert bytecode.seal(prefix, [site]) == (1, 0)
    source.write_text("VALUE = 'two'\n")
    reinstalled(source)
    assert import_it(prefix, site, "changing") == "two"


def test_a_stale_pyc_is_never_sealed(tmp_path: Path) -> None:
    """A pyc written for older source (its mtime and size no longer match) is left for Python
    to replace: sealing it would bless the old code with the new source's hash."""
    prefix, site = tmp_path / "bytecode", tmp_path / "site"
    site.mkdir()
    source = site / "edited.py"
    written(source, "VALUE = 'one'\n")
    import_it(prefix, site, "edited")
    source.write_text("VALUE = 'three'\n")
    assert bytecode.seal(prefix, [site]) == (0, 0)
    assert import_it(prefix, site, "edited") == "three"


def test_a_source_written_in_the_pycs_second_is_never_sealed(tmp_path: Path) -> None:
    """Within one second, a same-size edit after the compile keeps the pyc's mtime and size
    right: only a source older than its pyc by a second at least is sealed."""
    prefix, site = tmp_path / "bytecode", tmp_path / "site"
    site.mkdir()
    source = site / "fresh.py"
    source.write_text("VALUE = 1\n")
    import_it(prefix, site, "fresh")
    pyc = pyc_of(prefix, source)
    same = int(pyc.stat().st_mtime)
    os.utime(source, (same, same))  # the source's second is the pyc's
    header = pyc.read_bytes()[:16]
    pyc.write_bytes(header[:8] + same.to_bytes(4, "little") + header[12:] + pyc.read_bytes()[16:])
    os.utime(pyc, (same + 0.5, same + 0.5))
    assert bytecode.seal(prefix, [site]) == (0, 0)


def test_the_folder_lives_in_uvs_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv_cache.folder.cache_clear()
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    try:
        assert bytecode.root() == (tmp_path / "uv-cache").resolve() / "mlci-bytecode"
        mypy = bytecode.mypy_cache(tmp_path / "project")
        assert mypy.parent == (tmp_path / "uv-cache").resolve() / "mlci-mypy"
        assert mypy != bytecode.mypy_cache(tmp_path / "other")  # one per project
    finally:
        uv_cache.folder.cache_clear()


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bytecode.main([]) == 2
    assert bytecode.main([str(tmp_path / "prefix"), str(tmp_path)]) == 0
    assert "0 pycs sealed by source hash, 0 already were" in capsys.readouterr().out


def test_the_bytecode_of_folders_that_are_gone_is_removed(tmp_path: Path) -> None:
    prefix = tmp_path / "bytecode"
    kept_src, gone_src = tmp_path / "kept" / "mod.py", tmp_path / "gone" / "sub" / "mod.py"
    for source in (kept_src, gone_src):
        source.parent.mkdir(parents=True)
        written(source, "VALUE = 'one'\n")
        import_it(prefix, source.parent, "mod")
    shutil.rmtree(tmp_path / "gone")
    assert bytecode.prune(prefix) == 1
    assert pyc_of(prefix, kept_src).is_file()
    assert not (prefix / str(tmp_path / "gone").lstrip("/")).exists()
