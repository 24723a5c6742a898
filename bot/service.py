"""The platform-free core every front end talks to: a request's files in, replies out, within the bot's limits.
Checks before a download, cooldowns, the global caps, reading off the event loop, and a clean stop live here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from bot.errors import (
    Busy,
    DigitBotError,
    DownloadFailed,
    ImageTooLarge,
    NoPicture,
    NotAnImage,
    ShuttingDown,
    SlowDown,
)
from bot.feedback import words
from bot.feedback.keeper import StoreKeeper
from bot.feedback.retention import UnratedRetention
from bot.feedback.store import FeedbackStore, StoredAnswer, WildStats, is_verdict, model_version, quantize
from bot.limits import UserCooldowns, WorkLimits
from bot.metrics import ServiceMetrics
from bot.pictures import Picture
from bot.recognizer import Prediction, Recognizer
from bot.replies import Reply, error_reply, help_reply, prediction_reply, stats_reply, unexpected_error_reply
from bot.settings import Settings
from bot.stats import LiveStats, ModelCard

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PICTURES_PER_REQUEST = 10  # as many as one Discord message carries; more are named in the answer, not read
CONSOLE_USER = "console"  # the one user of a console chat
STORAGE_THREADS = 2  # verdicts, forgets and stats wait for the database here, never behind pictures being read


@dataclass(frozen=True)
class Rating:
    """What a verdict gets: an acknowledgement for the rater, and the line the rated answer now shows (None when
    nothing was saved: not the sender's answer, an unknown answer, the database out of reach)."""

    reply: Reply
    answer_mark: str | None


@dataclass(frozen=True)
class IncomingFile:
    """A file a user posted, as the chat platform describes it before anything is downloaded."""

    name: str | None
    declared_size: int | None  # what the platform says: enough to refuse early, never trusted to read
    content_type: str | None
    fetch: Callable[
        [int], Awaitable[bytes]
    ]  # the bytes, at most the given size, else ImageTooLarge (or DownloadFailed)

    @property
    def media_type(self) -> str | None:
        """The declared type, or the one the file name suggests; None when neither says."""
        if self.content_type:
            return self.content_type.split(";")[0].strip().lower()
        return mimetypes.guess_type(self.name or "")[0]


@dataclass(frozen=True)
class Request:
    """Someone asking for their pictures to be read."""

    user: Hashable  # whose cooldown this request takes
    platform: str  # for the logs and metrics: "discord", "telegram", …
    files: Sequence[IncomingFile]
    automatic: bool = False  # posted without a command (a DM, an auto-read channel): only pictures get answers
    always_answer: bool = False  # e.g. a slash command, whose "thinking…" must end in an answer even for spam


class DigitService:
    """The recognizer, its statistics and limits, and a bounded pool of worker threads to run it in."""

    def __init__(self, recognizer: Recognizer, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.settings = settings
        self.recognizer = recognizer
        self.model_card = ModelCard.for_model(recognizer.model_path)
        self.live = LiveStats()
        self.cooldowns = UserCooldowns(settings.user_cooldown_seconds)
        self.limits = WorkLimits(
            max_pictures=settings.max_pictures_in_progress, max_bytes=settings.max_bytes_in_progress
        )
        self.metrics = ServiceMetrics(pictures_in_progress=lambda: self.limits.pictures_in_progress)
        self._pool = ThreadPoolExecutor(max_workers=settings.max_concurrent_reads, thread_name_prefix="digit-reader")
        self._storage_pool = ThreadPoolExecutor(max_workers=STORAGE_THREADS, thread_name_prefix="digit-storage")
        self.feedback = StoreKeeper(settings.database_url)  # opened now, so a corrupt file is reported at start
        self.model_version = _model_version(recognizer.model_path)
        self.retention = UnratedRetention(settings.keep_unrated_days)
        self._stopping = asyncio.Event()
        self._requests_in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @classmethod
    def from_settings(cls, settings: Settings) -> DigitService:
        return cls(Recognizer.from_settings(settings), settings)

    async def handle(self, request: Request, send: Callable[[list[Reply]], Awaitable[None]]) -> None:
        """Answers `request` and sends the replies; a stop waits for this (up to its grace period)."""
        self._requests_in_flight += 1
        self._idle.clear()
        try:
            replies = await self.answer(request)
            if replies:
                await send(replies)
        finally:
            self._requests_in_flight -= 1
            if not self._requests_in_flight:
                self._idle.set()

    async def answer(self, request: Request) -> list[Reply]:
        """One reply per file, in order; an empty list when staying quiet is kinder (spam, a PDF in a channel)."""
        files = list(request.files)
        if request.automatic:
            files = [file for file in files if _may_be_picture(file)]
            if not files:
                return []
        if self._stopping.is_set():
            return [self._refusal_reply(ShuttingDown("the bot is stopping"), request.platform)]
        if not files:
            return [self._refusal_reply(NoPicture("no picture was sent"), request.platform)]
        try:
            wait_seconds = self.cooldowns.take_turn(request.user)
        except SlowDown as refusal:
            quiet = not refusal.notify and not request.always_answer
            return [] if quiet else [self._refusal_reply(refusal, request.platform)]
        if wait_seconds:
            try:
                await self._sleep_unless_stopping(wait_seconds)
            finally:
                self.cooldowns.turn_started(request.user)
        unread_note = _unread_files_note(len(files))
        files = files[:MAX_PICTURES_PER_REQUEST]
        refusals = [self._refusal_before_download(file) for file in files]
        admitted = refusals.count(None)
        try:
            self.limits.admit(admitted)
        except Busy as busy:
            return [self._refusal_reply(busy, request.platform)]
        try:
            replies = await asyncio.gather(
                *(
                    self._fetch_and_read(file, request.platform, request.user)
                    if refusal is None
                    else self._refused(refusal, request.platform, file.name)
                    for file, refusal in zip(files, refusals, strict=True)
                )
            )
        finally:
            self.limits.release(admitted)
        return [*replies, *unread_note]

    def read_now(
        self, pictures: Sequence[Picture], platform: str = "console", user: Hashable = CONSOLE_USER
    ) -> list[Reply]:
        """One reply per picture, in order, read in the calling thread: for the console and the command line.

        The pictures that were not refused go to the model as one batch; each answer is stored for `user` to rate.
        """
        if not pictures:
            return [error_reply(NoPicture("no picture was sent"))]
        readable = [picture for picture in pictures if picture.refusal is None]
        results = iter(self.recognizer.read_many([picture.data for picture in readable]))
        return [self._reply(picture, picture.refusal or next(results), platform, user) for picture in pictures]

    def read_files(self, paths: Sequence[Path]) -> list[Reply]:
        """Reads local picture files in the calling thread, as many as one request may hold: for the console."""
        pictures = [Picture.from_file(path, self.recognizer.limits) for path in paths[:MAX_PICTURES_PER_REQUEST]]
        return self.read_now(pictures) + _unread_files_note(len(paths))

    def stats(self) -> Reply:
        """The model's card, the counters since start, and those of all time with accuracy in the wild.

        Reads the database in the calling thread: on an event loop, use `stats_async`.
        """
        wild: WildStats | None = self.feedback.run(FeedbackStore.wild_stats)
        return words.with_wild_stats(stats_reply(self.model_card, self.live), wild)

    async def stats_async(self) -> Reply:
        return await self._in_storage_thread(self.stats)

    async def rate(self, platform: str, user: Hashable, answer_id: str, verdict: str) -> Rating:
        """Saves `user`'s verdict ("right" or the correct digits) on an answer; acknowledged only once committed."""
        return await self._in_storage_thread(self.rate_now, platform, user, answer_id, verdict)

    def rate_now(self, platform: str, user: Hashable, answer_id: str, verdict: str) -> Rating:
        """`rate` in the calling thread: for the console."""
        verdict = verdict.strip().lower()
        if not is_verdict(verdict):
            return Rating(words.not_a_verdict_reply(), None)
        result = self.feedback.run(lambda store: store.rate(answer_id, store.user_key(platform, user), verdict))
        if result is None:
            return Rating(words.verdict_not_saved_reply(), None)
        if result.status == "unknown":
            return Rating(words.unknown_answer_reply(), None)
        if result.status == "not_yours":
            return Rating(words.not_yours_reply(), None)
        log.info("%s: a verdict on an answer: %s", platform, "right" if result.verdict == "right" else "corrected")
        return Rating(words.verdict_saved_reply(result), words.answer_mark(result.verdict))

    async def forget(self, platform: str, user: Hashable) -> Reply:
        """Deletes every answer kept from `user`'s pictures on `platform`, with their verdicts."""
        return await self._in_storage_thread(self.forget_now, platform, user)

    def forget_now(self, platform: str, user: Hashable) -> Reply:
        deleted = self.feedback.run(lambda store: store.forget(store.user_key(platform, user)))
        if deleted is None:
            return words.forget_failed_reply()
        log.info("%s: forgot a user's %d answers", platform, deleted)
        return words.forgotten_reply(deleted)

    @property
    def storage_problem(self) -> str | None:
        """Why the bot must not start: the database file is damaged or from a newer bot (one line), else None."""
        corrupt = self.feedback.corrupt
        return None if corrupt is None else f"DATABASE_URL: {corrupt}"

    @staticmethod
    def help(command_lines: Sequence[str]) -> Reply:
        return help_reply(command_lines)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def stop(self, grace_seconds: float | None = None) -> int:
        """Takes no new work and waits up to the grace period for requests in flight; returns how many remain."""
        self._stopping.set()
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        return self._requests_in_flight

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._storage_pool.shutdown(wait=True)  # a verdict being committed is finished, not cut off
        self.feedback.close()

    def _refusal_before_download(self, file: IncomingFile) -> DigitBotError | None:
        """Type first, then the declared size: a big video is not a picture, whatever its size."""
        media_type = file.media_type
        if media_type is not None and not media_type.startswith("image/"):
            return NotAnImage(f"{file.name} is {media_type}")
        limit = self.recognizer.limits.max_bytes
        if file.declared_size is not None and file.declared_size > limit:
            return ImageTooLarge(f"{file.name} has {file.declared_size} bytes", limit_bytes=limit)
        return None

    async def _fetch_and_read(self, file: IncomingFile, platform: str, user: Hashable) -> Reply:
        """Downloads and reads one picture while holding room for its bytes, then lets go of them."""
        limit = self.recognizer.limits.max_bytes
        size = limit if file.declared_size is None else file.declared_size  # at most the limit: checked before
        async with self.limits.bytes_reserved(size):
            try:
                async with asyncio.timeout(self.settings.download_timeout_seconds):
                    picture = Picture(await file.fetch(size), file.name)
            except TimeoutError:
                log.warning("%s: a download took over %.0f s", platform, self.settings.download_timeout_seconds)
                picture = Picture.refused(DownloadFailed(f"{file.name} took too long"), file.name)
            except ImageTooLarge as refusal:
                # Past its declared size the body is not what the chat announced: no picture, whatever its size.
                lie = DownloadFailed(f"{file.name} is larger than the {size} bytes announced")
                picture = Picture.refused(refusal if size == limit else lie, file.name)
            except DigitBotError as refusal:
                picture = Picture.refused(refusal, file.name)
            except Exception:
                log.exception("%s: unexpected error while downloading a picture", platform)
                self.metrics.count_error("Unexpected", platform)
                return unexpected_error_reply()
            loop = asyncio.get_running_loop()
            (reply,) = await loop.run_in_executor(self._pool, self.read_now, [picture], platform, user)
            return reply

    def _reply(self, picture: Picture, result: Prediction | DigitBotError, platform: str, user: Hashable) -> Reply:
        if isinstance(result, DigitBotError):
            return self._refusal_reply(result, platform, picture.name)
        self.live.record(result.timings.total_ms)
        self.metrics.count_read(platform, result.timings.total_ms)
        log.info(
            "%s: read %s, %.1f%% sure, %.1f ms",
            platform,
            result.number,
            result.confidence * 100,
            result.timings.total_ms,
        )
        answer_id = self.feedback.run(lambda store: self._store_answer(store, result, platform, user))
        return replace(prediction_reply(result, picture.name), answer_id=answer_id)

    def _store_answer(self, store: FeedbackStore, prediction: Prediction, platform: str, user: Hashable) -> str:
        answer = StoredAnswer(
            platform=platform,
            user_key=store.user_key(platform, user),
            answer=prediction.number,
            confidence=prediction.confidence,
            model=self.model_version,
            inputs=tuple(quantize(model_input) for model_input in prediction.model_inputs),
        )
        store.record_answer(answer, reading_ms=prediction.timings.total_ms)
        if self.retention.due():  # in the storage thread: an answer never waits for old ones to be deleted
            with contextlib.suppress(RuntimeError):  # the pool is closed: the bot is stopping
                self._storage_pool.submit(self.feedback.run, self.retention.apply)
        return answer.id

    async def _in_storage_thread(self, function: Callable[..., T], *arguments: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._storage_pool, function, *arguments)

    def _refusal_reply(self, error: DigitBotError, platform: str, name: str | None = None) -> Reply:
        kind = type(error).__name__
        self.metrics.count_error(kind, platform)
        log.info("%s: answered %s", platform, kind)
        return error_reply(error, name)

    async def _refused(self, error: DigitBotError, platform: str, name: str | None) -> Reply:
        return self._refusal_reply(error, platform, name)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        """Waits out a cooldown, but not past a stop: a request already accepted is answered before exit."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()


def _model_version(model_path: Path) -> str:
    try:
        return model_version(model_path)
    except OSError:  # a model given by a test, or moved away after loading
        return "unknown"


def _unread_files_note(files_sent: int) -> list[Reply]:
    """A last reply when more files came than one request reads, so none is ignored without a word."""
    if files_sent <= MAX_PICTURES_PER_REQUEST:
        return []
    return [
        Reply(
            headline=f"You sent {files_sent} files: I read only the first {MAX_PICTURES_PER_REQUEST}.",
            details=(f"Send the others again, up to {MAX_PICTURES_PER_REQUEST} at a time.",),
        )
    ]


def _may_be_picture(file: IncomingFile) -> bool:
    """In a chat where every post is read, only pictures are the bot's business: a PDF or a video is not."""
    media_type = file.media_type
    return media_type is None or media_type.startswith("image/")
