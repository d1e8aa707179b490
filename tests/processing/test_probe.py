"""The producer's look at a file: its stat and content hash taken once, for the index lookup and the copy check."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgtwin.hashing.content import content_hash
from imgtwin.processing.copies import QUEUE, WAIT, ScanCopies
from imgtwin.processing.probe import FileProbe
from tests.helpers import synthetic_photo


def test_a_probe_reads_each_fact_once(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    synthetic_photo(1, (96, 72)).save(path, quality=85)
    probe = FileProbe(str(path))
    size, digest = probe.stat().st_size, probe.digest()
    assert digest == content_hash(str(path))
    path.write_bytes(b"other bytes")  # what the producer saw is what both askers get
    assert (probe.stat().st_size, probe.digest()) == (size, digest)
    assert FileProbe(str(path)).digest() != digest


def test_a_missing_file_fails_each_time_it_is_asked(tmp_path: Path) -> None:
    probe = FileProbe(str(tmp_path / "gone.jpg"))
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            probe.stat()
        with pytest.raises(FileNotFoundError):
            probe.digest()


def test_the_copy_check_takes_the_probes_answers(tmp_path: Path) -> None:
    first, copy = tmp_path / "first.jpg", tmp_path / "copy.jpg"
    synthetic_photo(2, (96, 72)).save(first, quality=85)
    copy.write_bytes(first.read_bytes())
    copies = ScanCopies()
    assert copies.claim(str(first), FileProbe(str(first))) is QUEUE
    probe = FileProbe(str(copy))
    probe.stat(), probe.digest()  # asked by the index lookup first, as the producer does
    copy.unlink()  # a copy check that looked again would find nothing and queue it
    assert copies.claim(str(copy), probe) is WAIT
