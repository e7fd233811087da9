"""One bad entry never aborts a batch: symlink loops, deep nesting, unreadable entries and
special files are each an error of their own, and the entries around them are read."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer.document import Document
from summarizer.errors import InputError
from summarizer.ingest import iter_documents
from tests.conftest import batch_case_text, env_without_keys

CLI = [sys.executable, "-m", "summarizer.cli"]


def read(*sources: str | Path) -> list[Document | InputError]:
    return list(iter_documents(list(sources)))


def shape(found: list[Document | InputError]) -> list[str]:
    return [item.id if isinstance(item, Document) else f"ERROR {item}" for item in found]


def page(path: Path, number: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(batch_case_text(number))
    return path


def test_symlink_loops_in_a_folder_are_errors_and_the_rest_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    page(folder / "a.txt")
    page(folder / "b.txt")
    (folder / "loop").symlink_to(folder / "loop")  # a link to itself
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)  # a folder that contains itself
    page(folder / "sub" / "c.txt")
    found = shape(read(folder))
    assert found[:2] == ["a", "b"] and found[3] == "c" and len(found) == 5
    assert "symbolic links" in found[2] and str(folder / "loop") in found[2]
    assert "symlink loop" in found[4] and str(folder / "sub" / "up") in found[4]
    direct = shape(read(folder / "loop"))
    assert len(direct) == 1 and "symbolic links" in direct[0]


def test_a_symlinked_folder_is_followed_and_read_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    page(folder / "real" / "x.txt")
    (folder / "link").symlink_to(folder / "real")
    page(tmp_path / "elsewhere" / "y.txt")
    (folder / "other").symlink_to(tmp_path / "elsewhere")
    assert shape(read(folder)) == ["x", "y"]


def test_a_very_deep_folder_tree_is_walked(tmp_path: Path) -> None:
    top = deep = tmp_path / "in"
    top.mkdir()
    try:
        for _ in range(1500):  # deeper than Python's recursion limit
            deep = deep / "d"
            deep.mkdir()
        page(deep / "bottom.txt")
        assert shape(read(top)) == ["bottom"]
    finally:  # bottom-up: shutil.rmtree (and so pytest's own cleanup) recurses too deep
        (deep / "bottom.txt").unlink(missing_ok=True)
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


def test_jsonl_line_nested_200000_deep_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "a", "abstract": batch_case_text(1)}),
        "[" * 200_000 + "]" * 200_000,
        '{"id": "deep", "abstract": ' + "[" * 200_000 + "]" * 200_000 + "}",
        json.dumps({"id": "c", "abstract": batch_case_text(3)}),
    ]
    path.write_text("\n".join(lines) + "\n")
    found = shape(read(path))
    assert found[0] == "a" and found[-1] == "c" and len(found) == 4
    assert all("nested too deeply" in item for item in found[1:3])
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [*CLI, "summarize", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env_without_keys(),
        timeout=120,
    )
    assert done.returncode == 1 and "internal error" not in done.stderr, done.stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in written if "record" in line) == ["a", "c"]
    assert sum("error" in line for line in written) == 2


def test_special_files_are_errors_never_opened(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    page(folder / "a.txt")
    os.mkfifo(folder / "fifo")  # opening it would block forever
    (folder / "null").symlink_to("/dev/null")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "sock"))
        page(folder / "z.txt", 2)
        found = shape(read(folder))
    finally:
        server.close()
    assert found[0] == "a" and found[-1] == "z" and len(found) == 5
    assert "named pipe" in found[1] and "a device" in found[2] and "a socket" in found[3]
    assert "a device" in shape(read("/dev/null"))[0]
    assert "named pipe" in shape(read(folder / "fifo"))[0]


def test_an_all_nul_file_is_binary_not_empty(tmp_path: Path) -> None:
    sparse = tmp_path / "zeros.txt"
    with sparse.open("wb") as handle:
        handle.truncate(1024**3)  # 1 GB of NUL bytes, sparse: nothing written to disk
    (error,) = read(sparse)
    assert isinstance(error, InputError) and "(it contains NUL bytes)" in str(error), error
    small = tmp_path / "few.txt"
    small.write_bytes(b"\x00" * 10)
    assert "(it contains NUL bytes)" in shape(read(small))[0]
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b" \n\t\n")
    assert "empty" in shape(read(blank))[0]
    utf16_blank = tmp_path / "blank16.txt"
    utf16_blank.write_bytes(" \n".encode("utf-16"))
    assert "empty" in shape(read(utf16_blank))[0]


def _unprivileged() -> Iterator[tuple[str, ...]]:
    """A command prefix that runs without root's power to read anything."""
    if os.geteuid() != 0:
        yield ()
        return
    unshare = shutil.which("unshare")
    probe = (unshare, "--map-user=1000", "--map-group=1000") if unshare else ()
    if not probe or subprocess.run([*probe, "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without user namespaces: cannot make a file unreadable")
    yield probe  # type: ignore[misc]


def test_unreadable_folder_and_file_are_errors_and_the_batch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    page(folder / "a.txt")
    locked_file = page(folder / "b.txt", 2)
    locked_folder = folder / "c"
    page(locked_folder / "inside.txt", 3)
    page(folder / "d.txt", 4)
    locked_file.chmod(0)
    locked_folder.chmod(0)
    out = tmp_path / "out.jsonl"
    try:
        for prefix in _unprivileged():
            done = subprocess.run(
                [*prefix, *CLI, "summarize", str(folder), "-o", str(out)],
                capture_output=True,
                text=True,
                env=env_without_keys(),
                timeout=120,
            )
    finally:
        locked_folder.chmod(0o755)
        locked_file.chmod(0o644)
    assert done.returncode == 1 and "internal error" not in done.stderr, done.stderr
    written = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert "record" in written["a"] and "record" in written["d"]
    assert "Permission denied" in written[str(locked_file)]["error"]
    assert "cannot read the folder" in written[str(locked_folder)]["error"]
    assert len(written) == 4
