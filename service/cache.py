"""Answer/embedding cache: Redis when ``HARDNEG_REDIS_URL`` is set, else an in-process LRU.

Both speak the same small protocol (batch get/set, single-flight ``compute_once``). The Redis
cache never raises because Redis is down: it answers as a miss, flags ``degraded`` and recovers
by itself once Redis answers again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from hardneg.service.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
Compute = Callable[[], Awaitable[bytes]]
# Decides, when a computed value is stored, how long it lives (None: do not store it at all).
TtlFor = Callable[[bytes], int | None]
DEFAULT_TTL_S = 7 * 24 * 3600  # same as Settings.cache_ttl_s; callers normally pass their own

# Atomic "value, or the lock, or wait": a separate GET then SET NX would let a caller miss,
# see the holder finish and release, then take the lock and compute a second time.
_GET_OR_LOCK = """
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {0}
"""
# Store first, then release: a waiter that sees the lock gone must also see the value.
_STORE_AND_UNLOCK = """
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""
_HIT, _LOCKED_BY_ME = 1, 2


@runtime_checkable
class Cache(Protocol):
    """What the pipeline needs from a cache; values are bytes, callers serialise."""

    name: str

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Mapping[str, bytes], ttl_s: int | None = None) -> None: ...

    async def compute_once(
        self, key: str, compute: Compute, ttl_s: int | None = None, ttl_for: TtlFor | None = None
    ) -> tuple[bytes, bool]: ...

    async def ping(self) -> tuple[bool, str]: ...

    @property
    def degraded(self) -> bool: ...

    async def aclose(self) -> None: ...


def cache_key(namespace: str, payload: Any) -> str:
    """Stable key ``namespace:<32 hex>`` from the canonical JSON of ``payload``."""
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"cache_key: namespace must be a non-empty string, got {namespace!r}")
    try:
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        msg = f"cache_key({namespace!r}): payload is not JSON-serialisable: {exc}"
        raise TypeError(msg) from exc
    return f"{namespace}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and /readyz)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _check_items(items: Mapping[str, bytes], ttl_s: int | None, default_ttl_s: int) -> int:
    """Validate a batch before storing it; returns the TTL to use."""
    ttl = default_ttl_s if ttl_s is None else ttl_s
    if not isinstance(ttl, int) or ttl < 1:
        raise ValueError(f"ttl_s must be a positive integer (seconds), got {ttl_s!r}")
    for key, value in items.items():
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"cache value for {key!r} must be bytes, got {type(value).__name__}")
    return ttl


class _SingleFlight(ABC):
    """In-process single-flight: concurrent callers of one key share one asyncio task."""

    default_ttl_s: int

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Task[tuple[bytes, bool]]] = {}

    @abstractmethod
    async def _fill(self, key: str, compute: Compute, ttl: TtlFor) -> tuple[bytes, bool]:
        """Return the stored value, or compute, store and return it (backend-specific)."""

    async def compute_once(
        self, key: str, compute: Compute, ttl_s: int | None = None, ttl_for: TtlFor | None = None
    ) -> tuple[bytes, bool]:
        """Cached value, or compute + store it once however many callers ask at the same time.

        The TTL is decided when the value is stored: ``ttl_for(value)`` when given (None there
        means "do not store"), else ``ttl_s``, else the cache's default. Returns (value, True)
        for the caller whose computation was stored, (value, False) otherwise.
        """
        task = self._inflight.get(key)
        if task is not None:
            value, _ = await asyncio.shield(task)
            return value, False
        fixed = _check_items({}, ttl_s, self.default_ttl_s)
        ttl: TtlFor = ttl_for or (lambda _value: fixed)
        task = asyncio.ensure_future(self._fill(key, compute, ttl))
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._forget(key, t))
        # shield: a cancelled first caller must not cancel the computation the others await
        return await asyncio.shield(task)

    @abstractmethod
    async def set_many(self, items: Mapping[str, bytes], ttl_s: int | None = None) -> None: ...

    async def _compute_and_store(
        self, key: str, compute: Compute, ttl: TtlFor
    ) -> tuple[bytes, bool]:
        """Compute, then store with the TTL ``ttl`` picks for the value (or not at all)."""
        value = await compute()
        ttl_s = ttl(value)
        if ttl_s is None:
            return value, False
        await self.set_many({key: value}, ttl_s)
        return value, True

    def _forget(self, key: str, task: asyncio.Task[tuple[bytes, bool]]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an abandoned failure is not logged as unhandled


class LRUCache(_SingleFlight):
    """Bounded, TTL-aware in-process cache (embedded default; not shared across workers)."""

    name: str = "lru"

    def __init__(
        self,
        maxsize: int = 10_000,
        *,
        default_ttl_s: int = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"LRUCache maxsize must be >= 1, got {maxsize}")
        super().__init__()
        self.maxsize = maxsize
        self.default_ttl_s = default_ttl_s
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def degraded(self) -> bool:
        return False

    def _get(self, key: str, now: float) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry[1]

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        return [self._get(k, now) for k in keys]

    async def set_many(self, items: Mapping[str, bytes], ttl_s: int | None = None) -> None:
        expires = self._clock() + _check_items(items, ttl_s, self.default_ttl_s)
        for key, value in items.items():
            self._data[key] = (expires, bytes(value))
            self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    async def _fill(self, key: str, compute: Compute, ttl: TtlFor) -> tuple[bytes, bool]:
        hit = self._get(key, self._clock())
        if hit is not None:
            return hit, False
        return await self._compute_and_store(key, compute, ttl)

    async def ping(self) -> tuple[bool, str]:
        return True, (
            f"in-process LRU, {len(self._data)}/{self.maxsize} entries (not shared across workers)"
        )

    async def aclose(self) -> None:
        self._data.clear()


def _reason(exc: BaseException, timeout_s: float) -> str:
    """Short human reason for a Redis failure, e.g. 'Connection refused'."""
    from redis.exceptions import TimeoutError as RedisTimeout

    if isinstance(exc, RedisTimeout | TimeoutError):
        return f"no reply within {timeout_s:g} s"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


class RedisCache(_SingleFlight):
    """Redis cache (redis-py asyncio, hiredis parser when installed), shared by all workers.

    Every failure is swallowed: reads miss, writes are dropped, ``degraded`` turns True and
    Redis is left alone for ``backoff_s`` before the next probe, so a dead Redis costs ~nothing.
    """

    name: str = "redis"

    def __init__(
        self,
        url: str,
        socket_timeout_s: float = 0.5,
        prefix: str = "hardneg:",
        *,
        default_ttl_s: int = DEFAULT_TTL_S,
        lock_ttl_s: float = 30.0,
        backoff_s: float = 1.0,
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        super().__init__()
        self.url = redact_url(url)
        self.prefix = prefix
        self.default_ttl_s = default_ttl_s
        self.lock_ttl_s = lock_ttl_s
        self.backoff_s = backoff_s
        self.socket_timeout_s = socket_timeout_s
        try:
            # One immediate retry on a broken connection only: after a Redis restart the pooled
            # socket is dead and a fresh one works; timeouts are not retried (they would stall).
            self._r: aioredis.Redis = aioredis.Redis.from_url(
                url,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
        except ValueError as exc:
            raise ValueError(f"not a usable Redis URL {self.url!r}: {exc}") from exc
        self._get_or_lock = self._r.register_script(_GET_OR_LOCK)
        self._store_and_unlock = self._r.register_script(_STORE_AND_UNLOCK)
        self._error: str | None = None
        self._down_until = 0.0

    @property
    def address(self) -> str:
        kw = self._r.connection_pool.connection_kwargs
        return str(kw.get("path") or f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}")

    @property
    def degraded(self) -> bool:
        return self._error is not None

    def _failed(self, exc: BaseException) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout

        # a refused/dropped/silent socket is "unreachable"; an error reply (OOM, READONLY) is not
        lost = isinstance(exc, RedisConnectionError | RedisTimeout | OSError)
        state = "unreachable" if lost else "failing"
        detail = f"redis at {self.address} {state}: {_reason(exc, self.socket_timeout_s)}"
        if self._error is None:
            log.warning("cache degraded, answering uncached: %s", detail)
        self._error = detail
        self._down_until = time.monotonic() + self.backoff_s

    def _ok(self) -> None:
        if self._error is not None:
            log.info("cache recovered: redis at %s answers again", self.address)
        self._error = None
        self._down_until = 0.0  # a successful probe (ping) ends the back-off too

    async def _run(self, op: Callable[[], Awaitable[T]], *, probe: bool = False) -> T | None:
        """Run one Redis round trip; None when Redis is down or backing off (never raises)."""
        from redis.exceptions import RedisError

        if not probe and time.monotonic() < self._down_until:
            return None
        try:
            result = await op()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self._ok()
        return result

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        full = [self.prefix + k for k in keys]
        got: list[Any] | None = await self._run(lambda: self._r.mget(full))
        return got if got is not None else [None] * len(keys)

    async def set_many(self, items: Mapping[str, bytes], ttl_s: int | None = None) -> None:
        ttl = _check_items(items, ttl_s, self.default_ttl_s)
        if not items:
            return

        async def op() -> list[Any]:
            pipe = self._r.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(self.prefix + key, bytes(value), ex=ttl)
            return await pipe.execute()

        await self._run(op)

    async def _fill(self, key: str, compute: Compute, ttl: TtlFor) -> tuple[bytes, bool]:
        """Cross-process single-flight: take the lock and compute, or wait for the holder."""
        vkey, lkey = self.prefix + key, f"{self.prefix}lock:{key}"
        token, lock_ms = uuid.uuid4().hex, max(1, int(self.lock_ttl_s * 1000))
        deadline = time.monotonic() + self.lock_ttl_s + 1.0
        delay = 0.01
        while time.monotonic() < deadline:
            got = await self._run(lambda: self._get_or_lock([vkey, lkey], [token, lock_ms]))
            if got is None:  # Redis down: compute without it
                break
            if got[0] == _HIT:
                return bytes(got[1]), False
            if got[0] == _LOCKED_BY_ME:
                return await self._compute_locked(vkey, lkey, token, compute, ttl)
            await asyncio.sleep(delay)  # someone else computes; their value appears soon
            delay = min(delay * 1.5, 0.1)
        return await self._compute_and_store(key, compute, ttl)  # Redis down: compute without it

    async def _compute_locked(
        self, vkey: str, lkey: str, token: str, compute: Compute, ttl: TtlFor
    ) -> tuple[bytes, bool]:
        """Compute while holding the lock, then store (unless ``ttl`` says not to) and unlock
        in one round trip."""
        try:
            value = await compute()
            ttl_s = ttl(value)
            _check_items({vkey: value}, ttl_s or 1, 1)
        except BaseException:
            # release at once so waiters take over instead of waiting out the lock TTL
            await self._run(lambda: self._store_and_unlock([vkey, lkey], [b"", "", token]))
            raise
        stored = b"" if ttl_s is None else value
        await self._run(lambda: self._store_and_unlock([vkey, lkey], [stored, ttl_s or "", token]))
        return value, ttl_s is not None

    async def ping(self) -> tuple[bool, str]:
        """Probe Redis now (ignores the back-off); used by /readyz."""
        ok = await self._run(self._r.ping, probe=True)
        if ok is None:
            return False, self._error or f"redis at {self.address} unreachable"
        return True, f"redis at {self.address} reachable"

    async def aclose(self) -> None:
        await self._r.aclose()


def make_cache(settings: Settings) -> Cache:
    """RedisCache when ``redis_url`` is set, else the embedded in-process LRU; logs which."""
    if settings.redis_url:
        cache: Cache = RedisCache(
            settings.redis_url,
            socket_timeout_s=settings.redis_timeout_s,
            default_ttl_s=settings.cache_ttl_s,
        )
        log.info("cache: redis at %s (shared by all workers)", redact_url(settings.redis_url))
        return cache
    log.info(
        "cache: embedded in-process LRU (%d entries), not shared across workers;"
        " set HARDNEG_REDIS_URL to share one",
        settings.lru_size,
    )
    return LRUCache(settings.lru_size, default_ttl_s=settings.cache_ttl_s)
