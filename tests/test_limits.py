"""The per-user cooldown with one waiting turn, on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.errors import SlowDown
from bot.limits import FORGET_USERS_AFTER, UserCooldowns


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_request_waits_its_turn_and_later_ones_are_refused_with_one_notice_per_window():
    clock = Clock()
    cooldowns = UserCooldowns(2.0, clock)

    assert cooldowns.take_turn("ed") == 0
    clock.now += 0.5
    assert cooldowns.take_turn("ed") == pytest.approx(1.5)
    with pytest.raises(SlowDown) as first_refusal:
        cooldowns.take_turn("ed")
    with pytest.raises(SlowDown) as second_refusal:
        cooldowns.take_turn("ed")
    assert first_refusal.value.notify and not second_refusal.value.notify
    assert cooldowns.take_turn("flo") == 0, "cooldowns are per user"

    clock.now += 1.5
    cooldowns.turn_started("ed")
    assert cooldowns.take_turn("ed") == pytest.approx(2.0), "the next waits behind the one that just started"
    with pytest.raises(SlowDown) as same_window:
        cooldowns.take_turn("ed")
    assert not same_window.value.notify
    clock.now += 0.5
    with pytest.raises(SlowDown) as new_window:
        cooldowns.take_turn("ed")
    assert new_window.value.notify, "a new cooldown window, a new notice"


def test_no_cooldown_means_no_waiting():
    cooldowns = UserCooldowns(0.0, Clock())
    assert [cooldowns.take_turn("ed") for _ in range(5)] == [0.0] * 5


def test_users_whose_cooldown_ended_are_forgotten():
    clock = Clock()
    cooldowns = UserCooldowns(1.0, clock)
    for user in range(FORGET_USERS_AFTER):
        cooldowns.take_turn(("old", user))
    clock.now += 5
    for user in range(FORGET_USERS_AFTER):
        cooldowns.take_turn(("new", user))
    assert all(user[0] == "new" for user in cooldowns._users)
