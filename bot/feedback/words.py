"""The words of feedback, shared by all front ends: a verdict noted or not, a user forgotten, stats in the wild."""

from __future__ import annotations

from dataclasses import replace

from bot.feedback.store import RIGHT, RatingResult, WildStats
from bot.replies import Reply, percent

TRY_AGAIN = "Please try again in a moment."


def answer_mark(verdict: str) -> str:
    """The line a rated answer shows from then on."""
    return "✓ Marked right" if verdict == RIGHT else f"✎ Corrected to {verdict}"


def verdict_saved_reply(result: RatingResult) -> Reply:
    if result.verdict == RIGHT:
        return Reply(headline="Thanks! Noted: I read it right.")
    return Reply(
        headline=f"Thanks! Noted: it shows {result.verdict}, not {result.answer}.",
        details=("Corrections like yours go into my next training.",),
    )


def not_yours_reply() -> Reply:
    return Reply(headline="Only the person who sent the picture can rate my answer.", is_error=True)


def unknown_answer_reply() -> Reply:
    return Reply(
        headline="I no longer have that answer, so I can't note a verdict on it.",
        details=("Its sender may have asked me to forget their answers.",),
        is_error=True,
    )


def verdict_not_saved_reply() -> Reply:
    return Reply(headline="Sorry, I couldn't save your verdict just now.", details=(TRY_AGAIN,), is_error=True)


def not_a_verdict_reply() -> Reply:
    return Reply(
        headline="A correction is the digits the picture really shows, e.g. 7.",
        details=("Only digits, no spaces: 2024 for a number.",),
        is_error=True,
    )


def nothing_to_rate_reply(prefix: str) -> Reply:
    return Reply(
        headline="There's no answer of mine to rate yet.",
        details=(f"Send a picture first, then {prefix}right or {prefix}correct 7.",),
        is_error=True,
    )


def forgotten_reply(answers_deleted: int) -> Reply:
    kept = "Counts without names (pictures read, time per picture) stay; your verdicts leave the stats too."
    if not answers_deleted:
        return Reply(headline="I had nothing of yours to delete.", details=(kept,))
    noun = "answer" if answers_deleted == 1 else "answers"
    return Reply(
        headline=f"Done: I deleted the {answers_deleted:,} {noun} I kept from your pictures, with your verdicts.",
        details=(kept,),
    )


def forget_failed_reply() -> Reply:
    return Reply(headline="Sorry, I couldn't delete your answers just now.", details=(TRY_AGAIN,), is_error=True)


def with_wild_stats(stats: Reply, wild: WildStats | None) -> Reply:
    """The stats reply with the lines of all time and every platform added: counters and accuracy in the wild."""
    return replace(stats, details=(*stats.details, *wild_lines(wild)))


def wild_lines(wild: WildStats | None) -> tuple[str, ...]:
    if wild is None:
        return ("All time: the answer database is out of reach right now.",)
    total = sum(wild.pictures_read.values())
    platforms = ", ".join(f"{name.capitalize()} {count:,}" for name, count in sorted(wild.pictures_read.items()))
    median = "–" if wild.median_ms is None else f"{wild.median_ms:.1f} ms"
    read = f"{total:,} picture{'' if total == 1 else 's'} read" + (f" ({platforms})" if platforms else "")
    counters = f"All time, every platform: {read}"
    lines = [f"{counters}, median {median} per picture."]
    if not wild.rated:
        lines.append("In the wild: no answers rated yet. Mark mine right or wrong to see how I do on your pictures.")
        return tuple(lines)
    low, high = wild.interval or (0.0, 0.0)
    rated = f"{wild.rated:,} answer{'' if wild.rated == 1 else 's'} rated"
    lines.append(
        f"In the wild: {rated}, {percent(wild.share_right or 0.0)} right (95% interval {percent(low)}–{percent(high)})."
    )
    if wild.most_corrected:
        pairs = ", ".join(f"{answer} → {verdict} ({count:,}×)" for answer, verdict, count in wild.most_corrected)
        lines.append(f"Most often corrected: {pairs}.")
    return tuple(lines)
