"""Release guards for the kit's own release workflow (.github/workflows/release.yml).

    python -m mlci.ci.release ref REF          REF must be refs/tags/vX.Y.Z
    python -m mlci.ci.release dist REF FOLDER  the wheel and sdist in FOLDER carry X.Y.Z
    python -m mlci.ci.release major REF        prints the major tag (v1) to move to REF, or
                                            nothing when a newer vX.Y.Z of that major exists
                                            (the existing tag refs, one per line, on stdin)

Each failure is one line naming what is wrong; the exit status is 1.  Only the standard library
is used, so the workflow runs this from a checkout without installing anything.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

TAG_REF = re.compile(
    r"refs/tags/v(?P<version>(?P<major>0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*))"
)


class ReleaseError(Exception):
    """Why this run must not publish."""


def _parse(ref: str) -> re.Match[str]:
    match = TAG_REF.fullmatch(ref)
    if match is None:
        raise ReleaseError(
            f"release: {ref!r} is not a release tag (refs/tags/vX.Y.Z): nothing is published"
            " from a branch, a pull request or another tag"
        )
    return match


def version_of(ref: str) -> str:
    """X.Y.Z of a release tag ref; anything else (a branch, a pull request) is refused."""
    return _parse(ref)["version"]


def major_tag(ref: str) -> str:
    """The moving major tag a release updates: refs/tags/v1.4.2 -> v1."""
    return f"v{_parse(ref)['major']}"


def _numbers(match: re.Match[str]) -> tuple[int, ...]:
    return tuple(int(part) for part in match["version"].split("."))


def major_to_move(ref: str, existing: list[str]) -> str | None:
    """The major tag to point at `ref`, or None when a newer release of that major exists.

    The major tag only moves forward: a backport (v1.2.5 after v1.3.0) never takes `v1` back.
    `existing`: the repository's tag refs (anything that is not a release tag is ignored).
    """
    release = _parse(ref)
    newest = max(
        (
            _numbers(match)
            for match in map(TAG_REF.fullmatch, (line.strip() for line in existing))
            if match is not None and match["major"] == release["major"]
        ),
        default=(),
    )
    return None if newest > _numbers(release) else major_tag(ref)


def _metadata_version(text: str) -> str:
    return str(HeaderParser().parsestr(text)["Version"])


def built_versions(folder: Path) -> dict[str, str]:
    """File name -> the version its own metadata declares, for every wheel and sdist."""
    found: dict[str, str] = {}
    for wheel in sorted(folder.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            found[wheel.name] = _metadata_version(archive.read(name).decode())
    for sdist in sorted(folder.glob("*.tar.gz")):
        with tarfile.open(sdist) as archive:
            [member] = [
                m
                for m in archive.getmembers()
                if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
            ]
            extracted = archive.extractfile(member)
            assert extracted is not None
            found[sdist.name] = _metadata_version(extracted.read().decode())
    return found


def check_dist(ref: str, folder: Path) -> list[str]:
    """Problems that forbid publishing `folder` for `ref` (empty when all is well)."""
    expected = version_of(ref)
    versions = built_versions(folder)
    problems = [
        f"release: {name} is version {version}, the tag says {expected}"
        for name, version in versions.items()
        if version != expected
    ]
    kinds = {name.endswith(".whl") for name in versions}
    if kinds != {True, False}:
        problems.append(
            f"release: {folder} must hold one wheel and one sdist, it holds {sorted(versions)}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """`python -m mlci.ci.release`: 0 when the release may go on, 1 when it must stop."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) == 2 and args[0] == "ref":
            print(f"release {version_of(args[1])}, moves {major_tag(args[1])}")
            return 0
        if len(args) == 3 and args[0] == "dist":
            problems = check_dist(args[1], Path(args[2]))
            for problem in problems:
                print(problem, file=sys.stderr)
            if not problems:
                print(
                    f"release: {', '.join(sorted(built_versions(Path(args[2]))))} match {args[1]}"
                )
            return 1 if problems else 0
        if len(args) == 2 and args[0] == "major":
            major = major_to_move(args[1], sys.stdin.read().splitlines())
            if major is None:
                print(
                    f"release: a newer release of {major_tag(args[1])} exists:"
                    f" {major_tag(args[1])} stays where it is",
                    file=sys.stderr,
                )
            else:
                print(major)
            return 0
    except ReleaseError as err:
        print(err, file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
