"""The platform clock: aware UTC, and a frozen time that holds only inside its block and context."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

from hexmill.core import clock


def test_frozen_time_holds_inside_the_block_only() -> None:
    moment = datetime(2025, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    with clock.frozen_at(moment):
        assert clock.utcnow() == moment
        assert clock.utcnow().tzinfo == UTC
        with clock.frozen_at(datetime(2025, 3, 2)):  # noqa: DTZ001 - naive on purpose: taken as UTC
            assert clock.utcnow() == datetime(2025, 3, 2, tzinfo=UTC)
        assert clock.utcnow() == moment
    assert abs(clock.utcnow() - datetime.now(UTC)) < timedelta(minutes=1)


def test_frozen_time_does_not_leak_into_other_threads() -> None:
    seen: list[datetime] = []
    with clock.frozen_at(datetime(2020, 1, 1, tzinfo=UTC)):
        worker = threading.Thread(target=lambda: seen.append(clock.utcnow()))
        worker.start()
        worker.join()
    assert seen[0].year >= 2026
