"""Filling a feedback database as the bot would: answers kept, then rated (or not) by their senders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from bot.feedback.store import FeedbackStore, StoredAnswer


def rated_answer(
    store: FeedbackStore,
    answer: str,
    verdict: str | None,
    inputs: Sequence[np.ndarray],
    *,
    platform: str = "discord",
    confidence: float = 0.9,
    model: str = "model-hash",
    time: datetime | None = None,
) -> StoredAnswer:
    """An answer of `answer` on `inputs` (one uint8 28×28 per digit), kept, and rated `verdict` unless None."""
    changes = {"time": time} if time else {}
    stored = StoredAnswer(
        platform, store.user_key(platform, "sender"), answer, confidence, model, tuple(inputs), **changes
    )
    store.record_answer(stored)
    if verdict is not None:
        assert store.rate(stored.id, stored.user_key, verdict).status == "saved"
    return stored
