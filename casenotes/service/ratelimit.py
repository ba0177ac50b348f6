"""Requests per token per minute, in fixed one-minute windows. With a Redis URL the count
is shared by every worker and host; without one each process counts on its own."""

from __future__ import annotations

import threading
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, per_minute: int, redis_url: str | None = None) -> None:
        self.per_minute = per_minute
        self._redis = None
        if redis_url and per_minute > 0:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=1.0)
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> int | None:
        """None when the request may go on; otherwise the seconds until the window resets."""
        if self.per_minute <= 0:
            return None
        now = time.time()
        window = int(now // 60)
        count = self._count_redis(key, window) if self._redis is not None else self._count_local(key, window)
        return None if count <= self.per_minute else max(1, int(60 - now % 60))

    def _count_redis(self, key: str, window: int) -> int:
        name = f"casenotes:rate:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, 120)
        return int(pipe.execute()[0])

    def _count_local(self, key: str, window: int) -> int:
        with self._lock:
            for stale in [k for k in self._counts if k[1] < window]:
                del self._counts[stale]
            self._counts[(key, window)] = self._counts.get((key, window), 0) + 1
            return self._counts[(key, window)]
