"""Reading a local picture file: every kind of path a user can type is bytes or a typed error, never a hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.errors import ImageTooLarge, UnreadableFile
from bot.local_files import expand_home, path_exists, printable_path, read_picture_file
from tests.deadline import fails_instead_of_hanging

LIMIT = 1000
needs_fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def refusal(path: Path | str, max_bytes: int = LIMIT) -> str:
    with pytest.raises(UnreadableFile) as refused:
        read_picture_file(Path(path), max_bytes)
    return str(refused.value)


def test_a_regular_file_is_read_whole(tmp_path):
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"x" * LIMIT)
    assert read_picture_file(picture, LIMIT) == b"x" * LIMIT
    (tmp_path / "empty.png").touch()
    assert read_picture_file(tmp_path / "empty.png", LIMIT) == b""


def test_a_file_over_the_limit_is_refused_with_the_limit(tmp_path):
    picture = tmp_path / "big.png"
    picture.write_bytes(b"x" * (LIMIT + 1))
    with pytest.raises(ImageTooLarge) as refused:
        read_picture_file(picture, LIMIT)
    assert refused.value.limit_bytes == LIMIT


def test_a_missing_file_is_named_in_the_refusal(tmp_path):
    assert refusal(tmp_path / "nowhere.png") == f"There is no file {tmp_path / 'nowhere.png'}."
    assert refusal(tmp_path / "nowhere" / "a.png").startswith("There is no file")
    (tmp_path / "file").touch()
    assert refusal(tmp_path / "file" / "a.png").startswith("There is no file")  # a file used as a folder


def test_a_nul_byte_or_an_unencodable_character_is_refused_not_raised():
    assert refusal("a\x00b.png") == "That path has a character files can't have."
    assert refusal("\ud800.png") == "That path has a character files can't have."


def test_a_name_too_long_for_the_file_system_is_refused():
    assert refusal("x" * 300) == "That file name is too long."
    assert refusal("/".join(["x" * 200] * 30)) == "That file name is too long."


def test_a_folder_is_refused_as_a_folder(tmp_path):
    assert refusal(tmp_path) == f"{tmp_path} is a folder, not a picture file."


@needs_fifos
def test_a_fifo_with_no_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "link.png").symlink_to(fifo)
    with fails_instead_of_hanging():
        assert refusal(fifo) == f"{fifo} is not a regular file."
        assert refusal(tmp_path / "link.png") == f"{tmp_path / 'link.png'} is not a regular file."


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused_not_read(device):
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    with fails_instead_of_hanging():
        assert refusal(device) == f"{device} is not a regular file."


def test_a_file_without_read_permission_is_refused(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root may read any file")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"x")
    secret.chmod(0)
    assert refusal(secret) == f"I'm not allowed to read {secret}."


def test_home_is_expanded_and_an_unknown_users_home_left_as_typed(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_home("~/a.png") == tmp_path / "a.png"
    assert expand_home("~nosuchuser-digit-bot/a.png") == Path("~nosuchuser-digit-bot/a.png")
    assert expand_home("~a\x00b") == Path("~a\x00b")
    assert refusal(expand_home("~nosuchuser-digit-bot")) == "There is no file ~nosuchuser-digit-bot."


def test_path_exists_is_false_for_names_no_file_can_have(tmp_path):
    assert path_exists(tmp_path)
    assert not path_exists(tmp_path / "nowhere")
    assert not path_exists(Path("a\x00b"))
    assert not path_exists(Path("x" * 300))
    assert not path_exists(Path("\ud800"))


def test_a_path_is_shown_without_control_characters_and_cut_when_long():
    assert printable_path("a\x00b\x1b[2J\ud800.png") == "a\\x00b\\x1b[2J\\ud800.png"
    shown = printable_path("x" * 5000)
    assert len(shown) == 120 and shown.endswith("…")
