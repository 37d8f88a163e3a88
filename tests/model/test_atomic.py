"""model.atomic: a final name holds the old file or the whole new one, never a torn one."""

import os

import pytest

from model import atomic


class WriterDied(Exception):
    pass


def test_a_writer_that_fails_midway_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "vectors.npy"
    atomic.write_with(path, lambda handle: handle.write(b"old"))

    def half_then_fail(handle):
        handle.write(b"new but not all of it")
        raise WriterDied

    with pytest.raises(WriterDied):
        atomic.write_with(path, half_then_fail)
    assert os.listdir(tmp_path) == ["vectors.npy"] and path.read_bytes() == b"old"


def test_create_exclusively_has_one_winner_and_keeps_its_content(tmp_path):
    path = tmp_path / "claim.json"
    assert atomic.create_exclusively(path, b"first")
    assert not atomic.create_exclusively(path, b"second")
    assert os.listdir(tmp_path) == ["claim.json"] and path.read_bytes() == b"first"
