"""The downloads folder's variables, its completeness stamp and the fetched line."""

from __future__ import annotations

from pathlib import Path

from mlci.session import downloads


def project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "models.txt").write_text("acme/tiny\n")
    return tmp_path


def test_clients_download_into_the_folder_unless_the_runner_says_otherwise(tmp_path: Path) -> None:
    root = project(tmp_path)
    found = downloads.prepare(
        root, "tests/models.txt", "unit-3.11", environ={"TORCH_HOME": "/data/torch"}
    )
    folder = root / ".mlci-downloads"
    assert found.variables == {
        "MLCI_DOWNLOADS": str(folder),
        # HF_HOME (and the token there) stays; TORCH_HOME is the runner's own.
        "HF_HUB_CACHE": str(folder / "huggingface" / "hub"),
        "HF_DATASETS_CACHE": str(folder / "huggingface" / "datasets"),
    }
    assert not found.offline
    assert (folder / ".gitignore").read_text().endswith("*\n")


def test_offline_only_for_the_session_and_key_file_a_green_run_completed(tmp_path: Path) -> None:
    root = project(tmp_path)
    downloads.prepare(root, "tests/models.txt", "unit-3.11", environ={}).complete("unit-3.11")
    again = downloads.prepare(root, "tests/models.txt", "unit-3.11", environ={})
    assert again.offline and again.variables["HF_HUB_OFFLINE"] == "1"
    # Another session's tests may download more: online until it completes the folder too.
    assert not downloads.prepare(root, "tests/models.txt", "integ", environ={}).offline
    # A Hugging Face cache the runner places elsewhere: not the folder's to vouch for.
    elsewhere = {"HF_HUB_CACHE": "/data/hub"}
    placed = downloads.prepare(root, "tests/models.txt", "unit-3.11", environ=elsewhere)
    assert not placed.offline and "HF_DATASETS_CACHE" not in placed.variables
    (root / "tests" / "models.txt").write_text("acme/tiny\nacme/other\n")
    changed = downloads.prepare(root, "tests/models.txt", "unit-3.11", environ={})
    assert not changed.offline and "HF_HUB_OFFLINE" not in changed.variables


def test_what_was_fetched_is_named_by_repository_and_counted(tmp_path: Path) -> None:
    root = project(tmp_path)
    found = downloads.prepare(root, "tests/models.txt", "unit-3.11", environ={})
    hub = found.folder / "huggingface" / "hub"
    blob = hub / "models--acme--tiny" / "blobs" / "ab12"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"x" * 2_500_000)
    (hub / "datasets--acme--squad" / "refs").mkdir(parents=True)
    (hub / "datasets--acme--squad" / "refs" / "main").write_text("0" * 40)
    (hub / ".locks").mkdir()
    (hub / ".locks" / "ab12.lock").write_text("")
    (found.folder / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (found.folder / "torch" / "hub" / "checkpoints" / "resnet18.pth").write_bytes(b"w" * 1500)
    assert found.report() == (
        "mlci: downloads: online, .mlci-downloads/ not yet filled for this models.txt;"
        " fetched 2.5 MB: acme/tiny (2.5 MB), dataset acme/squad (40 bytes),"
        " torch/hub/checkpoints/resnet18.pth (1.5 kB)"
    )
    assert (
        downloads.prepare(root, "tests/models.txt", "unit-3.11", environ={})
        .report()
        .endswith("nothing fetched")
    )
