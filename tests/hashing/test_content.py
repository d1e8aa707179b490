"""The content hash of a file, read by plain system calls (``hashing.content``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgtwin.hashing.content import content_hash, content_hash_of


def test_a_file_s_hash_is_that_of_its_bytes_and_a_descriptor_given_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    data = os.urandom((1 << 20) + 7)  # over one read
    path.write_bytes(data)
    assert content_hash(str(path)) == content_hash_of(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        duplicate = os.dup(fd)
        assert content_hash(duplicate) == content_hash_of(data)
        with pytest.raises(OSError):
            os.fstat(duplicate)  # closed, as open() closes a descriptor it was given
    finally:
        os.close(fd)


def test_a_missing_file_raises_as_open_does(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        content_hash(str(tmp_path / "gone.jpg"))
    assert raised.value.filename == str(tmp_path / "gone.jpg")
    with pytest.raises(IsADirectoryError):
        content_hash(str(tmp_path))
