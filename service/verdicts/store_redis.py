"""Verdicts in Redis (several hosts share them), keys under ``hardneg:verdicts:``.

A write is one Lua script, so it is atomic; with ``appendfsync always`` Redis fsyncs the
append-only file before it replies, so an acknowledged write survives ``kill -9`` of Redis. The
store checks that configuration before its first write and refuses writes without it.

Layout: ``v:<id>`` the verdict (JSON with its index fields), ``log`` a sorted set of ids by seq,
``item:<item>`` / ``pos:<positive key>`` / ``grp:<group>`` sets of ids, ``present:<item>`` a hash
of negative keys judged present (reference counts), ``ref:<positive key>`` reference counts per
(negative, verdict, item), ``agg:<positive key>`` distinct items per (negative, verdict) (what
mining reads), ``pkeys`` / ``present_items`` verdicts per positive key / present verdicts per
item, ``stats`` counters by verdict, miner and kind, ``seq`` the log counter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from hardneg.miners.errors import DependencyDown
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.verdicts import StoredVerdict, Verdict, VerdictCounts, VerdictWrite
from hardneg.service.verdicts.store import Entry, VerdictStats, VerdictStore

PREFIX = "hardneg:verdicts:"
COUNT_FIELDS = ("absent", "present", "not_similar", "implausible", "unsure", "bad")

# ARGV: prefix, now, group ('' = plain write), ops JSON. An op is {id, rec, item, pkey, nkey,
# verdict, bad, grp, stats} to put, or {id, del: true} to remove.
_SCRIPT = """
local P, now, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local ops = cjson.decode(ARGV[4])
local out = {0, 0, 0, 0, 0}
local function ref(pkey, field, agg, sign)
  local n = redis.call('HINCRBY', P..'ref:'..pkey, field, sign)
  if n <= 0 then redis.call('HDEL', P..'ref:'..pkey, field) end
  if (sign == 1 and n == 1) or (sign == -1 and n == 0) then
    local a = redis.call('HINCRBY', P..'agg:'..pkey, agg, sign)
    if a <= 0 then redis.call('HDEL', P..'agg:'..pkey, agg) end
  end
end
local function index(m, sign)
  local set = sign == 1 and 'SADD' or 'SREM'
  redis.call(set, P..'item:'..m.item, m.id)
  redis.call(set, P..'pos:'..m.pkey, m.id)
  if m.grp ~= '' then redis.call(set, P..'grp:'..m.grp, m.id) end
  ref(m.pkey, m.nkey..'\\31'..m.verdict..'\\31'..m.item, m.nkey..'\\31'..m.verdict, sign)
  if m.bad then ref(m.pkey, m.nkey..'\\31bad\\31'..m.item, m.nkey..'\\31bad', sign) end
  if m.verdict == 'present' then
    local n = redis.call('HINCRBY', P..'present:'..m.item, m.nkey, sign)
    if n <= 0 then redis.call('HDEL', P..'present:'..m.item, m.nkey) end
    n = redis.call('HINCRBY', P..'present_items', m.item, sign)
    if n <= 0 then redis.call('HDEL', P..'present_items', m.item) end
  end
  local c = redis.call('HINCRBY', P..'pkeys', m.pkey, sign)
  if c <= 0 then redis.call('HDEL', P..'pkeys', m.pkey) end
  for _, f in ipairs(m.stats) do redis.call('HINCRBY', P..'stats', f, sign) end
end
local function remove(id)
  local raw = redis.call('GET', P..'v:'..id)
  if not raw then return false end
  local m = cjson.decode(raw)
  index(m, -1)
  redis.call('DEL', P..'v:'..id)
  redis.call('ZREM', P..'log', id)
  return true
end
if group ~= '' then
  local keep = {}
  for _, op in ipairs(ops) do keep[op.id] = true end
  for _, id in ipairs(redis.call('SMEMBERS', P..'grp:'..group)) do
    if not keep[id] and remove(id) then out[4] = out[4] + 1 end
  end
end
for _, op in ipairs(ops) do
  if op.del then
    if remove(op.id) then out[5] = out[5] + 1 end
  else
    local raw = redis.call('GET', P..'v:'..op.id)
    if raw and cjson.decode(raw).rec == op.rec then
      out[2] = out[2] + 1
    else
      if raw then remove(op.id); out[3] = out[3] + 1 else out[1] = out[1] + 1 end
      op.seq = redis.call('INCR', P..'seq')
      op.received_at = now
      redis.call('SET', P..'v:'..op.id, cjson.encode(op))
      redis.call('ZADD', P..'log', op.seq, op.id)
      index(op, 1)
    end
  end
end
return out
"""


def _op(e: Entry) -> dict[str, Any]:
    v = e.verdict
    return {
        "id": v.id,
        "rec": e.rec,
        "item": v.item_id,
        "pkey": e.pkey,
        "nkey": e.nkey,
        "verdict": v.verdict.value,
        "bad": e.bad,
        "grp": v.group,
        "stats": e.stat_fields(),
    }


def _text(value: str | bytes) -> str:
    """The client decodes responses; this keeps the types honest for mypy."""
    return value.decode() if isinstance(value, bytes) else value


def _stored(raw: str | bytes) -> StoredVerdict:
    m = json.loads(raw)
    return StoredVerdict.model_validate(
        {**json.loads(m["rec"]), "received_at": m["received_at"], "seq": int(m["seq"])}
    )


class RedisVerdictStore(VerdictStore):
    """Verdicts in a Redis that fsyncs every write; reads for mining are one command each."""

    backend = "redis"

    def __init__(self, url: str, require_fsync: bool = True, timeout_s: float = 5.0) -> None:
        self.url = url
        self.require_fsync = require_fsync
        self._r = aredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._script = self._r.register_script(_SCRIPT)
        self.listeners = []
        self._checked = False

    async def _check_durable(self) -> None:
        """Refuse to acknowledge writes a crash could lose (checked once per process)."""
        if self._checked or not self.require_fsync:
            return
        try:
            conf = await self._r.config_get("append*")
        except ResponseError as exc:
            raise DependencyDown(
                f"cannot check the verdict Redis's persistence ({exc}); run it with appendonly"
                " yes and appendfsync always, or set HARDNEG_VERDICT_REDIS_REQUIRE_FSYNC=false"
                " if it is known to fsync every write"
            ) from exc
        if conf.get("appendonly") != "yes" or conf.get("appendfsync") != "always":
            raise DependencyDown(
                f"verdict Redis runs appendonly={conf.get('appendonly')} appendfsync="
                f"{conf.get('appendfsync')}: an acknowledged verdict could be lost; run it with"
                " appendonly yes and appendfsync always (deploy/redis/verdicts.conf) or use the"
                " SQLite store (unset HARDNEG_VERDICT_REDIS_URL)"
            )
        self._checked = True

    async def _run(self, group: str, ops: list[dict[str, Any]], ids: list[str]) -> VerdictWrite:
        await self._check_durable()
        args: list[str | float] = [PREFIX, time.time(), group, json.dumps(ops)]
        stored, dup, replaced, deleted, removed = await self._script(args=args)
        return VerdictWrite(
            stored=stored,
            duplicates=dup,
            replaced=replaced,
            deleted=deleted + removed,
            ids=ids,
        )

    async def _write(self, group: str | None, verdicts: Sequence[Verdict]) -> VerdictWrite:
        entries = [Entry.of(v) for v in verdicts]
        return await self._run(group or "", [_op(e) for e in entries], [v.id for v in verdicts])

    async def with_verdicts(self) -> tuple[set[str], set[str]]:
        pipe = self._r.pipeline(transaction=False)
        pipe.hkeys(f"{PREFIX}pkeys")
        pipe.hkeys(f"{PREFIX}present_items")
        pkeys, items = await pipe.execute()
        return set(map(_text, pkeys)), set(map(_text, items))

    async def delete(self, verdict_id: str) -> bool:
        out = await self._run("", [{"id": verdict_id, "del": True}], [])
        return out.deleted > 0

    async def _records(self, ids: Sequence[str], limit: int) -> list[StoredVerdict]:
        if not ids:
            return []
        raws = await self._r.mget([f"{PREFIX}v:{i}" for i in ids])
        out = sorted((_stored(r) for r in raws if r), key=lambda v: v.seq)
        return out[:limit]

    async def by_item(self, item_id: str, limit: int) -> list[StoredVerdict]:
        ids = await self._r.smembers(f"{PREFIX}item:{item_id}")
        return await self._records(sorted(map(_text, ids)), limit)

    async def by_positive(self, positive: str, limit: int) -> list[StoredVerdict]:
        ids = await self._r.smembers(f"{PREFIX}pos:{match_key(positive)}")
        return await self._records(sorted(map(_text, ids)), limit)

    async def export(self, since: int, limit: int) -> list[StoredVerdict]:
        ids = await self._r.zrangebyscore(f"{PREFIX}log", f"({since}", "+inf", start=0, num=limit)
        return await self._records([_text(i) for i in ids if isinstance(i, str | bytes)], limit)

    async def present_on_item(self, item_id: str) -> set[str]:
        return set(map(_text, await self._r.hkeys(f"{PREFIX}present:{item_id}")))

    async def counts(self, positive: str, negatives: Sequence[str]) -> dict[str, VerdictCounts]:
        keys = sorted({match_key(n) for n in negatives})
        if not keys:
            return {}
        fields = [f"{k}\x1f{c}" for k in keys for c in COUNT_FIELDS]
        values = await self._r.hmget(f"{PREFIX}agg:{match_key(positive)}", fields)
        out: dict[str, VerdictCounts] = {}
        for name, value in zip(fields, values, strict=True):
            if value and int(value) > 0:
                nkey, verdict = name.split("\x1f")
                setattr(out.setdefault(nkey, VerdictCounts()), verdict, int(value))
        return out

    async def stats(self) -> VerdictStats:
        raw = await self._r.hgetall(f"{PREFIX}stats")
        return VerdictStats.from_fields({_text(k): int(v) for k, v in raw.items()})

    async def aclose(self) -> None:
        await self._r.aclose()
