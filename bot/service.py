"""The platform-free core every front end talks to: pictures in, replies out, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DigitBotError, ImageTooLarge, NoPicture, UnreadableFile
from bot.imaging import ImageLimits
from bot.recognizer import Prediction, Recognizer
from bot.replies import Reply, error_reply, help_reply, prediction_reply, stats_reply
from bot.settings import Settings
from bot.stats import LiveStats, ModelCard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Picture:
    """Bytes a user sent, with the name to show in the answer, or why they were refused before reading."""

    data: bytes
    name: str | None = None
    refusal: DigitBotError | None = None  # e.g. too large to download, or a file that isn't there

    @classmethod
    def refused(cls, error: DigitBotError, name: str | None) -> Picture:
        return cls(b"", name, error)

    @classmethod
    def from_file(cls, path: Path, limits: ImageLimits) -> Picture:
        """A local file's bytes; a file over the byte limit is refused before it is read."""
        try:
            size = path.stat().st_size
            if size > limits.max_bytes:
                return cls.refused(ImageTooLarge(f"{path} has {size} bytes", limit_bytes=limits.max_bytes), path.name)
            with path.open("rb") as file:
                return cls(file.read(limits.max_bytes + 1), path.name)
        except FileNotFoundError:
            problem = f"There is no file {path}."
        except IsADirectoryError:
            problem = f"{path} is a folder, not a picture file."
        except OSError as error:
            problem = f"{path}: {error.strerror or error}."
        return cls.refused(UnreadableFile(problem), path.name)


class DigitService:
    """The recognizer, its live statistics, and a bounded pool of worker threads to run it in."""

    def __init__(self, recognizer: Recognizer, *, max_concurrent_reads: int = 2) -> None:
        self.recognizer = recognizer
        self.model_card = ModelCard.for_model(recognizer.model_path)
        self.live = LiveStats()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent_reads, thread_name_prefix="digit-reader")

    @classmethod
    def from_settings(cls, settings: Settings) -> DigitService:
        return cls(Recognizer.from_settings(settings), max_concurrent_reads=settings.max_concurrent_reads)

    def read_now(self, pictures: Sequence[Picture]) -> list[Reply]:
        """One reply per picture, in order, read in the calling thread: for the console and the command line.

        The pictures that were not refused go to the model as one batch.
        """
        if not pictures:
            return [error_reply(NoPicture("no picture was sent"))]
        readable = [picture for picture in pictures if picture.refusal is None]
        results = iter(self.recognizer.read_many([picture.data for picture in readable]))
        return [self._reply(picture, picture.refusal or next(results)) for picture in pictures]

    def read_files(self, paths: Sequence[Path]) -> list[Reply]:
        """Reads local picture files in the calling thread: for the console."""
        return self.read_now([Picture.from_file(path, self.recognizer.limits) for path in paths])

    async def read(self, pictures: Sequence[Picture]) -> list[Reply]:
        """Reads in the worker pool, so the event loop keeps answering while the model works.

        The pool's queue bounds the work: at most `max_concurrent_reads` batches run at once, the rest wait.
        """
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.read_now, pictures)

    def stats(self) -> Reply:
        return stats_reply(self.model_card, self.live)

    @staticmethod
    def help(command_lines: Sequence[str]) -> Reply:
        return help_reply(command_lines)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _reply(self, picture: Picture, result: Prediction | DigitBotError) -> Reply:
        if isinstance(result, DigitBotError):
            log.info("could not read %s: %s: %s", picture.name, type(result).__name__, result)
            return error_reply(result, picture.name)
        self.live.record(result.timings.total_ms)
        return prediction_reply(result, picture.name)
