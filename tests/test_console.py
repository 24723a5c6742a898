"""The console chat answers every line a user can type, and its loop survives any input to the end."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.console import MAX_LINE_CHARACTERS, ConsoleChat
from bot.replies import Reply
from bot.service import MAX_PICTURES_PER_REQUEST, DigitService
from bot.settings import Settings
from tests.conftest import temporary_database_url
from tests.deadline import fails_instead_of_hanging

DIDNT_GET_IT = "I didn't get that. Type !help to see what I can do."
needs_fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@pytest.fixture(scope="module")
def service(recognizer) -> DigitService:
    service = DigitService(recognizer, Settings(database_url=temporary_database_url()))
    yield service
    service.close()


@pytest.fixture
def chat(service) -> ConsoleChat:
    return ConsoleChat(service)


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, mnist_test_split) -> dict[str, str]:
    """A real digit picture, and the things a path can name that are not one."""
    folder = tmp_path_factory.mktemp("console-files")
    images, labels = mnist_test_split
    seven = folder / "seven.png"
    Image.fromarray(255 - images[int(np.flatnonzero(labels == 7)[0])]).resize((112, 112)).save(seven)
    files = {"picture": str(seven), "folder": str(folder), "missing": str(folder / "nowhere.png")}
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
        files["fifo"] = str(folder / "pipe.png")
    return files


def only_reply(replies: list[Reply]) -> Reply:
    assert len(replies) == 1, replies
    return replies[0]


def test_a_nul_byte_in_a_path_is_answered(chat):
    refused = only_reply(chat.answer("!predict a\x00b.png"))
    assert refused.is_error and "That path has a character files can't have." in refused.text
    assert "\x00" not in refused.text
    assert only_reply(chat.answer("a\x00b")).headline == DIDNT_GET_IT


def test_a_word_too_long_for_a_file_name_is_answered(chat):
    assert only_reply(chat.answer("x" * 300)).headline == DIDNT_GET_IT
    assert "That file name is too long." in only_reply(chat.answer("!predict " + "x" * 300)).text


def test_an_unknown_users_home_is_read_as_a_plain_name(chat):
    assert only_reply(chat.answer("~nosuchuser-digit-bot")).headline == DIDNT_GET_IT
    missing = only_reply(chat.answer("!predict ~nosuchuser-digit-bot/a.png"))
    assert "There is no file ~nosuchuser-digit-bot/a.png." in missing.text


@needs_fifos
def test_a_fifo_is_refused_without_hanging(chat, odd_files):
    with fails_instead_of_hanging():
        named = only_reply(chat.answer(f"!predict {odd_files['fifo']}"))
        bare = only_reply(chat.answer(odd_files["fifo"]))
    assert named == bare
    assert f"{odd_files['fifo']} is not a regular file." in named.text


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_not_read(chat, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    with fails_instead_of_hanging():
        assert f"{device} is not a regular file." in only_reply(chat.answer(device)).text


def test_a_folder_is_refused_as_a_folder(chat, odd_files):
    refused = only_reply(chat.answer(f"!predict {odd_files['folder']}"))
    assert f"{odd_files['folder']} is a folder, not a picture file." in refused.text


def test_a_file_without_read_permission_is_refused(chat, tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root may read any file")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"x")
    secret.chmod(0)
    assert "I'm not allowed to read" in only_reply(chat.answer(f"!predict {secret}")).text


def test_a_line_over_the_limit_is_refused_without_being_parsed(chat):
    started = time.perf_counter()
    refused = only_reply(chat.answer("!predict " + "a " * 500_000))
    assert time.perf_counter() - started < 2  # splitting a megabyte into words took 16 s
    assert refused.is_error and refused.headline == "That line is too long for me."
    assert only_reply(chat.answer("!stats".ljust(MAX_LINE_CHARACTERS))).headline.endswith("digits)")


def test_only_the_first_ten_pictures_of_a_line_are_read(chat, service, odd_files):
    before = service.live.pictures_read
    replies = chat.answer(" ".join([odd_files["picture"]] * 12))
    assert [reply.headline[0] for reply in replies[:-1]] == ["7"] * MAX_PICTURES_PER_REQUEST
    assert replies[-1].headline == "You sent 12 files: I read only the first 10."
    assert service.live.pictures_read == before + MAX_PICTURES_PER_REQUEST


def test_quotes_whitespace_and_control_characters_are_answered(chat, odd_files):
    assert chat.answer(" \t \x0b\x1c ") == []
    assert chat.answer("''") == [Reply(headline=DIDNT_GET_IT)]
    assert only_reply(chat.answer("'unbalanced")).headline == DIDNT_GET_IT
    assert only_reply(chat.answer("\x1b[2J\x07")).headline == DIDNT_GET_IT
    # With an unbalanced quote the words are taken as typed, quote and all: no such file.
    assert "There is no file" in only_reply(chat.answer(f'!predict "{odd_files["picture"]}')).text
    assert only_reply(chat.answer(f"'{odd_files['picture']}'")).headline.startswith("7")


PATH_WORDS = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=250, max_size=400),
    st.sampled_from(["\x00", "~", "~nosuchuser-digit-bot", "'", '"', "\\", "/", ".", "/dev/zero", "/dev/null"]),
    st.sampled_from(["picture", "folder", "missing", "fifo"]).map(lambda kind: f"{{{kind}}}"),
)
LINES = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
    st.lists(PATH_WORDS, max_size=14).map(" ".join),
    st.lists(PATH_WORDS, max_size=14).map(lambda words: "!predict " + " ".join(words)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=LINES)
def test_any_line_gets_replies_and_never_an_exception(chat, odd_files, line):
    for kind, path in odd_files.items():
        line = line.replace(f"{{{kind}}}", path)
    with fails_instead_of_hanging(30):
        replies = chat.answer(line)
    assert isinstance(replies, list) and all(isinstance(reply, Reply) for reply in replies)
    assert len(replies) <= MAX_PICTURES_PER_REQUEST + 1
    for reply in replies:
        reply.text.encode("utf-8")  # no stray surrogate a terminal could not print


def run_session(service: DigitService, stdin: io.TextIOBase) -> tuple[int, str]:
    stdout = io.StringIO()
    return ConsoleChat(service, stdin=stdin, stdout=stdout).run(), stdout.getvalue()


def test_a_whole_session_of_odd_lines_runs_to_the_end(service, odd_files):
    session = [
        "!predict a\x00b.png",
        "x" * 300,
        "~nosuchuser-digit-bot",
        "'unbalanced",
        "   ",
        "\x1b[2J",
        "!predict " + "a " * 500_000,
        f"!predict {odd_files['picture']} {odd_files['folder']}",
        "!stats",
    ]
    started = time.perf_counter()
    status, output = run_session(service, io.StringIO("\n".join(session) + "\nquit\n"))
    assert time.perf_counter() - started < 10
    assert status == 0
    assert output.count("> ") == len(session) + 1
    assert output.count("That line is too long for me.") == 1
    assert "> 7 — " in output  # the line after the megabyte is read whole, not its tail
    assert "is a folder, not a picture file." in output
    assert "Something went wrong" not in output


def test_a_line_of_exactly_the_limit_is_answered_and_one_more_character_is_not(service):
    lines = "!stats".ljust(MAX_LINE_CHARACTERS) + "\n" + "!stats".ljust(MAX_LINE_CHARACTERS + 1) + "\n"
    status, output = run_session(service, io.StringIO(lines))
    assert status == 0
    assert output.count("right on the MNIST test split") == 1
    assert output.count("That line is too long for me.") == 1
    assert output.endswith("> \n")  # end of input: a new line for the shell's prompt


def test_bytes_that_are_not_utf8_on_stdin_are_answered(service):
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x80\n!predict \xc3(.png\n!stats\nquit\n"), encoding="utf-8")
    stdout_bytes = io.BytesIO()
    stdout = io.TextIOWrapper(stdout_bytes, encoding="ascii", write_through=True)  # a terminal with no em dash
    status = ConsoleChat(service, stdin=stdin, stdout=stdout).run()
    output = stdout_bytes.getvalue().decode("ascii")
    assert status == 0
    assert output.count(DIDNT_GET_IT) == 1
    assert "There is no file \\ufffd(.png." in output
    assert "right on the MNIST test split" in output


class InterruptedStdin(io.StringIO):
    """A terminal where the user presses Ctrl-C at the second prompt."""

    def __init__(self) -> None:
        super().__init__("!help\n")

    def readline(self, size: int = -1) -> str:
        line = super().readline(size)
        if not line:
            raise KeyboardInterrupt
        return line


def test_ctrl_c_ends_the_chat_quietly(service):
    try:
        status, output = run_session(service, InterruptedStdin())
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the chat loop")  # rather than stopping the whole test run
    assert status == 0
    assert output.endswith("> \n")
    assert output.count("!predict PATH...") == 2  # the greeting, then !help


def test_right_correct_and_forget_rate_the_latest_reading(model_path, odd_files):
    service = DigitService.from_settings(Settings(model_path=model_path, database_url=temporary_database_url()))
    chat = ConsoleChat(service)
    try:
        assert "no answer of mine to rate" in only_reply(chat.answer("!right")).headline
        help_text = only_reply(chat.answer("!help")).text
        assert all(command in help_text for command in ("!right", "!correct 7", "!forget"))

        reading = only_reply(chat.answer(odd_files["picture"]))
        assert reading.answer_id is not None
        assert only_reply(chat.answer("!right")).details[-1] == "✓ Marked right"
        corrected = only_reply(chat.answer("!correct 1"))
        assert corrected.details[-1] == "✎ Corrected to 1" and f"not {reading.answer}" in corrected.headline
        assert "Most often corrected" in only_reply(chat.answer("!stats")).text
        assert only_reply(chat.answer("!correct seven")).is_error
        assert only_reply(chat.answer("!correct")).is_error

        assert "deleted the 1 answer" in only_reply(chat.answer("!forget")).headline
        assert "no answer of mine to rate" in only_reply(chat.answer("!right")).headline
        assert "0 answers rated" not in only_reply(chat.answer("!stats")).text
        assert "no answers rated yet" in only_reply(chat.answer("!stats")).text
    finally:
        service.close()
