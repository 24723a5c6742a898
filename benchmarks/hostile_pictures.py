"""Prints what hostile pictures cost: peak memory, time and the answer of reading each through Recognizer.

Run: .venv/bin/python benchmarks/hostile_pictures.py. Each case runs in a fresh process with the garbage collector
off, as between two full collections: what only the cycle collector would free stays. Peak memory is Linux's VmHWM
above that process once the model is loaded and a small picture read; time covers every read of the case.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPORTED_SIZE = (8000, 6250)  # the 50 MP progressive JPEG of the report
BOMB_SIDE = 20_000  # a PNG of 400 MP of zeros: 400 KB compressed
GIF_FRAMES = 100
IN_A_ROW = 12

READ_IN_A_FRESH_PROCESS = """
import gc, json, re, sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from bot.recognizer import Recognizer
from bot.settings import DEFAULT_MODEL_PATH


def peak_mb():
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


recognizer = Recognizer(DEFAULT_MODEL_PATH)
recognizer.read_many([Path(sys.argv[2]).read_bytes()])
start_mb = peak_mb()
gc.disable()
answers = []
started = time.perf_counter()
for path in sys.argv[3:]:
    result = recognizer.read_many([Path(path).read_bytes()])[0]
    answers.append(type(result).__name__ if isinstance(result, Exception) else f"digit {result.digit}")
    del result
milliseconds = (time.perf_counter() - started) * 1000
print(json.dumps({"start_mb": start_mb, "peak_mb": peak_mb(), "ms": milliseconds, "answers": answers}))
"""


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def seven(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A 7 in a thick dark stroke on a white page: mostly flat, as cheap to compress as a hostile file is."""
    width, height = size
    image = Image.new("RGB", size, "white")
    stroke = [(width * 0.3, height * 0.2), (width * 0.7, height * 0.2), (width * 0.45, height * 0.8)]
    ImageDraw.Draw(image).line(stroke, fill=(20, 20, 90), width=max(3, width // 40))
    return image if mode == "RGB" else image.convert(mode)


def png_bomb(side: int) -> bytes:
    """A greyscale PNG of side×side zeros, compressed row by row so that it never exists here either."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = bytes(1 + side)  # filter byte, then the pixels
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def transparent_palette_png(size: tuple[int, int]) -> bytes:
    image = seven(size, "P")
    image.info["transparency"] = 0
    return encoded(image, "PNG")


def many_frame_gif(size: tuple[int, int], frames: int) -> bytes:
    """The 7, then frames that each cover the whole canvas in one shade: a few KB each, a full decode each."""
    rest = [Image.new("L", size, 40 + 2 * frame) for frame in range(1, frames)]
    return encoded(seven(size, "L"), "GIF", save_all=True, append_images=rest)


def cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def noise_png(size: tuple[int, int]) -> bytes:
    """As many bytes as pixels: noise does not compress."""
    rng = np.random.default_rng(0)
    return encoded(Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)), "PNG")


# Each case: what it is, how to make its file, and how many times in a row it is read.
CASES: list[tuple[str, Callable[[], bytes], int]] = [
    ("progressive JPEG, 50 MP", lambda: encoded(seven(REPORTED_SIZE), "JPEG", progressive=True, quality=85), 1),
    ("baseline JPEG, 50 MP", lambda: encoded(seven(REPORTED_SIZE), "JPEG", quality=85), 1),
    ("PNG, 16 MP", lambda: encoded(seven((4000, 4000)), "PNG"), 1),
    ("PNG with a transparent colour, 16 MP", lambda: transparent_palette_png((4000, 4000)), 1),
    (f"PNG bomb, {BOMB_SIDE**2 // 1_000_000} MP of zeros", lambda: png_bomb(BOMB_SIDE), 1),
    ("WebP, 16 MP", lambda: encoded(seven((4000, 4000)), "WEBP", quality=80), 1),
    (f"GIF, {GIF_FRAMES} frames of 1 MP", lambda: many_frame_gif((1200, 900), GIF_FRAMES), 1),
    ("JPEG cut off halfway, 12 MP", lambda: cut_in_half(encoded(seven((4000, 3000)), "JPEG", quality=95)), 1),
    (f"{IN_A_ROW} files over the byte limit in a row", lambda: noise_png((2000, 2000)), IN_A_ROW),
]


def measure(pictures: list[Path], warm_up: Path) -> dict:
    command = [sys.executable, "-c", READ_IN_A_FRESH_PROCESS, str(PROJECT_ROOT), str(warm_up), *map(str, pictures)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    print(f"{'picture':<40} {'file':>9} | {'peak RSS':>9} {'above start':>11} {'time':>8} | answer")
    with tempfile.TemporaryDirectory() as folder:
        warm_up = Path(folder, "warm-up.png")
        warm_up.write_bytes(encoded(seven((280, 280), "L"), "PNG"))
        for number, (name, make, times) in enumerate(CASES):
            picture = Path(folder, f"{number}.picture")
            picture.write_bytes(make())
            numbers = measure([picture] * times, warm_up)
            answers = sorted(set(numbers["answers"]))
            print(
                f"{name:<40} {picture.stat().st_size / 1e6:>6.2f} MB | {numbers['peak_mb']:>6.0f} MB "
                f"{numbers['peak_mb'] - numbers['start_mb']:>8.0f} MB {numbers['ms']:>5.0f} ms | {', '.join(answers)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
