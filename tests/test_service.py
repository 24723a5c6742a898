"""The platform-free core: what a request gets back, within the cooldowns, the caps and a stop."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from bot.errors import ImageTooLarge
from bot.service import MAX_PICTURES_PER_REQUEST, IncomingFile, Picture, Request
from tests.conftest import make_service

MAX_IMAGE_BYTES = 200_000


@pytest.fixture(scope="module")
def digit_png(mnist_test_split) -> dict[int, bytes]:
    """Dark ink on white, upscaled: one clear MNIST test digit per label."""
    images, labels = mnist_test_split
    pictures = {}
    for digit in range(10):
        image = Image.fromarray(255 - images[int(np.flatnonzero(labels == digit)[0])]).resize((112, 112))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        pictures[digit] = buffer.getvalue()
    return pictures


@pytest.fixture
def service(shipped_model_path):
    service = make_service(shipped_model_path, max_image_bytes=MAX_IMAGE_BYTES)
    yield service
    service.close()


class Uploads:
    """Files as a chat platform offers them, counting what was downloaded."""

    def __init__(self) -> None:
        self.downloaded: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    def file(self, name: str, data: bytes, content_type: str | None = "image/png", size: int | None = None):
        async def fetch(max_bytes: int) -> bytes:
            self.downloaded.append(name)
            await self.release.wait()
            if len(data) > max_bytes:
                raise ImageTooLarge(f"{name} is over the limit", limit_bytes=max_bytes)
            return data

        return IncomingFile(name, len(data) if size is None else size, content_type, fetch)


def headlines(replies) -> list[str]:
    return [reply.headline for reply in replies]


def test_read_now_gives_refused_pictures_their_reason_and_reads_only_the_others(service, digit_png):
    refused = Picture.refused(ImageTooLarge("huge.png is over the limit", limit_bytes=MAX_IMAGE_BYTES), "huge.png")

    replies = service.read_now([refused, Picture(digit_png[3], "three.png"), refused])

    assert "too large" in replies[0].headline and "too large" in replies[2].headline
    assert replies[1].headline[0] == "3"
    assert service.live.pictures_read == 1


async def test_each_file_gets_its_answer_in_order_and_the_type_is_checked_before_the_size(service, digit_png):
    uploads = Uploads()
    files = [
        uploads.file("seven.png", digit_png[7]),
        uploads.file("movie.mp4", b"\x00" * 10, content_type="video/mp4", size=10 * MAX_IMAGE_BYTES),
        uploads.file("huge.png", digit_png[1], size=MAX_IMAGE_BYTES + 1),
        uploads.file("two.png", digit_png[2], content_type=None),
    ]

    replies = await service.answer(Request(user="ada", platform="test", files=files))

    assert replies[0].headline.startswith("7 ") and replies[3].headline.startswith("2 ")
    assert replies[1].headline == "That isn't a picture I can read."
    assert replies[2].headline == "That picture is too large for me."
    assert uploads.downloaded == ["seven.png", "two.png"], "refused before any download"


async def test_a_file_larger_than_it_declared_is_not_read(service, digit_png):
    uploads = Uploads()
    liar = uploads.file("liar.png", digit_png[5] + bytes(1000), size=len(digit_png[5]))
    undeclared_huge = replace(uploads.file("huge.png", bytes(MAX_IMAGE_BYTES + 1)), declared_size=None)

    replies = await service.answer(Request(user="ada", platform="test", files=[liar, undeclared_huge]))

    assert headlines(replies) == ["I couldn't get that picture from the chat.", "That picture is too large for me."]


async def test_without_a_command_only_pictures_are_answered(service, digit_png):
    uploads = Uploads()
    pdf = uploads.file("notes.pdf", b"%PDF-1.7", content_type="application/pdf")
    video = uploads.file("clip.mov", b"\x00", content_type=None)

    assert await service.answer(Request(user="ada", platform="test", files=[pdf, video], automatic=True)) == []
    replies = await service.answer(
        Request(user="ada", platform="test", files=[pdf, uploads.file("four.png", digit_png[4])], automatic=True)
    )
    assert headlines(replies)[0].startswith("4 ") and len(replies) == 1
    (asked,) = await service.answer(Request(user="ada", platform="test", files=[pdf]))
    assert asked.headline == "That isn't a picture I can read.", "a command always gets an answer"


async def test_files_past_the_tenth_are_named_not_ignored(service, digit_png):
    uploads = Uploads()
    files = [uploads.file(f"{n}.png", digit_png[n % 10]) for n in range(MAX_PICTURES_PER_REQUEST + 2)]

    replies = await service.answer(Request(user="ada", platform="test", files=files))

    assert len(replies) == MAX_PICTURES_PER_REQUEST + 1
    assert replies[-1].headline == f"You sent 12 files: I read only the first {MAX_PICTURES_PER_REQUEST}."
    assert len(uploads.downloaded) == MAX_PICTURES_PER_REQUEST

    pdfs = [uploads.file(f"{n}.pdf", b"%PDF", content_type="application/pdf") for n in range(5)]
    unasked = await service.answer(Request(user="bo", platform="test", files=[*pdfs, *files[:8]], automatic=True))
    assert len(unasked) == 8, "files passed over in silence are not counted as sent"


async def test_a_request_inside_the_cooldown_waits_its_turn_and_further_ones_get_one_notice(
    shipped_model_path, digit_png
):
    service = make_service(shipped_model_path, max_image_bytes=MAX_IMAGE_BYTES, user_cooldown_seconds=0.5)
    uploads = Uploads()
    try:
        first = await service.answer(Request(user="ed", platform="test", files=[uploads.file("a", digit_png[1])]))
        waiting = asyncio.create_task(
            service.answer(Request(user="ed", platform="test", files=[uploads.file("b", digit_png[2])]))
        )
        await asyncio.sleep(0.05)
        spam = [
            await service.answer(Request(user="ed", platform="test", files=[uploads.file(f"s{n}", digit_png[3])]))
            for n in range(5)
        ]
        slash = await service.answer(
            Request(user="ed", platform="test", files=[uploads.file("c", digit_png[4])], always_answer=True)
        )
        other_user = await service.answer(Request(user="flo", platform="test", files=[uploads.file("d", digit_png[5])]))

        assert headlines(first)[0].startswith("1 ") and headlines(other_user)[0].startswith("5 ")
        assert not waiting.done(), "the second request waits for the cooldown"
        assert headlines(await waiting)[0].startswith("2 ")
        assert headlines(spam[0]) == ["One moment, please."]
        assert all(replies == [] for replies in spam[1:]), "one notice per cooldown window"
        assert headlines(slash) == ["One moment, please."], "a slash command's 'thinking…' always ends in an answer"
    finally:
        service.close()


async def test_past_the_cap_on_pictures_in_progress_the_bot_says_it_is_busy(shipped_model_path, digit_png):
    service = make_service(shipped_model_path, max_image_bytes=MAX_IMAGE_BYTES, max_pictures_in_progress=3)
    uploads = Uploads()
    uploads.release.clear()
    try:
        held = asyncio.create_task(
            service.answer(
                Request(user="a", platform="test", files=[uploads.file(f"{n}", digit_png[n]) for n in range(3)])
            )
        )
        await asyncio.sleep(0.05)
        (busy,) = await service.answer(Request(user="b", platform="test", files=[uploads.file("x", digit_png[9])]))
        uploads.release.set()

        assert busy.headline.startswith("I'm busy") and busy.is_error
        assert [headline[0] for headline in headlines(await held)] == ["0", "1", "2"]
        assert service.limits.pictures_in_progress == 0
        (after,) = await service.answer(Request(user="b", platform="test", files=[uploads.file("y", digit_png[8])]))
        assert after.headline.startswith("8 ")
    finally:
        service.close()


@pytest.fixture
def room_for_two_pictures(shipped_model_path):
    """A service whose byte budget holds two of the largest pictures at once."""
    service = make_service(
        shipped_model_path, max_image_bytes=MAX_IMAGE_BYTES, max_bytes_in_progress=2 * MAX_IMAGE_BYTES
    )
    yield service
    service.close()


async def test_downloads_wait_for_their_share_of_the_byte_budget(room_for_two_pictures, digit_png):
    uploads = Uploads()
    uploads.release.clear()
    largest = [uploads.file(f"{n}", digit_png[n], size=MAX_IMAGE_BYTES) for n in range(4)]
    undeclared = replace(uploads.file("4", digit_png[4]), declared_size=None)

    answering = asyncio.create_task(
        room_for_two_pictures.answer(Request(user="a", platform="test", files=[*largest, undeclared]))
    )
    await asyncio.sleep(0.1)
    assert len(uploads.downloaded) == 2, "two of the largest pictures' worth of bytes at a time"
    uploads.release.set()

    assert [headline[0] for headline in headlines(await answering)] == ["0", "1", "2", "3", "4"]
    assert room_for_two_pictures.limits.bytes_free == 2 * MAX_IMAGE_BYTES, "every reservation returned"


async def test_small_pictures_share_the_byte_budget_by_their_declared_sizes(room_for_two_pictures, digit_png):
    uploads = Uploads()
    uploads.release.clear()
    files = [uploads.file(f"{n}", digit_png[n]) for n in range(10)]

    answering = asyncio.create_task(room_for_two_pictures.answer(Request(user="a", platform="test", files=files)))
    await asyncio.sleep(0.1)
    assert len(uploads.downloaded) == 10, "ten small pictures fit the room of two large ones"
    uploads.release.set()

    assert len(await answering) == 10


async def test_a_stop_finishes_requests_in_flight_and_refuses_new_ones(service, digit_png):
    uploads = Uploads()
    uploads.release.clear()
    sent: list[list[str]] = []

    async def send(replies):
        sent.append(headlines(replies))

    in_flight = asyncio.create_task(
        service.handle(Request(user="a", platform="test", files=[uploads.file("6", digit_png[6])]), send)
    )
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(service.stop(grace_seconds=5))
    await asyncio.sleep(0.05)
    (late,) = await service.answer(Request(user="b", platform="test", files=[uploads.file("7", digit_png[7])]))
    uploads.release.set()

    assert await stopping == 0
    await in_flight
    assert sent[0][0].startswith("6 ")
    assert late.headline.startswith("I'm restarting")


async def test_a_stop_gives_up_after_the_grace_period(service, digit_png):
    uploads = Uploads()
    uploads.release.clear()
    in_flight = asyncio.create_task(
        service.handle(Request(user="a", platform="test", files=[uploads.file("6", digit_png[6])]), _ignore)
    )
    await asyncio.sleep(0.05)

    assert await service.stop(grace_seconds=0.1) == 1
    uploads.release.set()
    await in_flight


async def test_metrics_count_reads_and_errors_by_kind(service, digit_png):
    uploads = Uploads()
    files = [uploads.file("1", digit_png[1]), uploads.file("x.txt", b"hi", content_type="text/plain")]

    await service.answer(Request(user="a", platform="test", files=files))

    page = service.metrics.exposition().decode()
    assert 'digitbot_pictures_read_total{platform="test"} 1.0' in page
    assert 'digitbot_errors_total{kind="NotAnImage",platform="test"} 1.0' in page
    assert "digitbot_read_seconds_count 1.0" in page
    assert "digitbot_pictures_in_progress 0.0" in page


async def _ignore(replies) -> None:
    return None
