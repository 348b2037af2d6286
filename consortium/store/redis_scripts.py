"""Lua scripts of the Redis store. Each touches the keys of one hash tag only (Cluster-safe).

See consortium/store/redis.py for the key layout and the invariants these scripts keep.
"""

from __future__ import annotations

from consortium.records import WINDOWS

# Creates a hash unless the key exists. ARGV: ttl_ms ("0": none), then field/value pairs.
# Returns {1} when created, else {0, the stored values of the same fields}.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local names = {}
  for i = 2, #ARGV, 2 do names[#names + 1] = ARGV[i] end
  return {0, redis.call('HMGET', KEYS[1], unpack(names))}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {1}
"""

# Updates an existing hash, optionally guarded: ARGV[1] guard field ('' = none), ARGV[2] n,
# ARGV[3..2+n] allowed values of the guard field, then field/value pairs.
# Returns {0} missing, {1, current} guard failed, {2, HGETALL after the update}.
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local n = tonumber(ARGV[2])
if ARGV[1] ~= '' then
  local cur = redis.call('HGET', KEYS[1], ARGV[1])
  local ok = false
  for i = 3, 2 + n do if ARGV[i] == cur then ok = true end end
  if not ok then return {1, cur} end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3 + n))
return {2, redis.call('HGETALL', KEYS[1])}
"""

# Compare-and-set of one hash field (withdrawing a marker without re-encoding JSON in Lua,
# whose cjson would round floats). ARGV: field, expected, new. Returns 1 when set.
CAS_FIELD = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# Deletes an application record received before ARGV[1]. Returns 1 when deleted.
DELETE_OLDER = """
local at = redis.call('HGET', KEYS[1], 'received_at')
if at and tonumber(at) < tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""

# The per-token script. KEYS: apps, seen, markers, apps:<member> (per-member zsets are named
# KEYS[1] .. ':' .. member). ARGV: 1 mode (0 read, 1 record with a tentative received_at,
# 2 record with the authoritative one: fix a differing entry, 3 trim only, 4 a batch: record
# tentatively and, if the stored time then differs from ARGV[10], record again authoritatively with
# ARGV[10] and trim bound ARGV[11] -- exactly Check's tentative call and its fix-up call, fused),
# 2 member (the caller), 3 ref, 4 received_at, 5 ttl_ms, 6 trim bound (entries below it go),
# 7 trim limit, 8 small: a token with at most this many entries in the longest window is read in
# one ZRANGEBYSCORE, 9 now (absent: no read), 10-11 (mode 4) authoritative received_at and its
# trim bound. Mode 3 returns the number trimmed; otherwise {status (0 read, 1 present,
# 2 inserted, 3 fixed), stored received_at, other members' counts per window, flat
# member/last-seen pairs within [now - longest window, now], marker JSONs}. Scores go back
# as strings (a Lua number in a reply is truncated to an integer); Lua doubles subtract exactly
# as Python's do, and numbers passed to redis.call are formatted with %.17g: bounds are exact.
TOKEN = """
local WINDOWS = {WINDOW_SECONDS}
local apps, seen, markers, mine = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, member, ref, at, now, per_member = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[9], KEYS[1] .. ':'
local function member_of(e) return string.sub(e, 1, string.find(e, '\\31', 1, true) - 1) end
local function refresh_seen(m)
  local top = redis.call('ZREVRANGE', per_member .. m, 0, 0, 'WITHSCORES')
  if top[2] then redis.call('ZADD', seen, top[2], m) else redis.call('ZREM', seen, m) end
end
local function trim(bound, limit)  -- seen[m] is a max: it only goes when all of m's entries go
  local old = redis.call('ZRANGEBYSCORE', apps, '-inf', '(' .. bound, 'LIMIT', 0, limit)
  if #old == 0 then return 0 end
  for _, e in ipairs(old) do
    local m = member_of(e)
    redis.call('ZREM', per_member .. m, string.sub(e, #m + 2))
  end
  redis.call('ZREM', apps, unpack(old))
  redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. bound)
  return #old
end
local function record(authoritative, at, bound)
  local entry, status, stored = member .. '\\31' .. ref, 2, at
  if redis.call('ZADD', apps, 'NX', at, entry) == 1 then
    redis.call('ZADD', mine, at, ref)
    redis.call('ZADD', seen, 'GT', at, member)
  else
    local cur = redis.call('ZSCORE', apps, entry)
    if authoritative and tonumber(cur) ~= tonumber(at) then
      redis.call('ZADD', apps, at, entry)
      redis.call('ZADD', mine, at, ref)
      refresh_seen(member)
      status = 3
    else
      status, stored = 1, cur
    end
  end
  for _, k in ipairs({apps, seen, mine}) do redis.call('PEXPIRE', k, ARGV[5]) end
  trim(bound, ARGV[7])
  return status, stored
end
if mode == '3' then return trim(ARGV[6], ARGV[7]) end
local status, stored = 0, at
if mode == '4' then
  status, stored = record(false, at, ARGV[6])
  if tonumber(stored) ~= tonumber(ARGV[10]) then status, stored = record(true, ARGV[10], ARGV[11]) end
elseif mode ~= '0' then
  status, stored = record(mode == '2', at, ARGV[6])
end
if not now then return {status, stored} end
local bounds, counts, last, small = {}, {}, {}, tonumber(ARGV[8])
for w = 1, #WINDOWS do bounds[w] = tonumber(now) - WINDOWS[w]; counts[w] = 0 end
local oldest = bounds[#bounds]
local rows = redis.call('ZRANGEBYSCORE', apps, oldest, now, 'WITHSCORES', 'LIMIT', 0, small + 1)
if #rows <= 2 * small then  -- the whole window is in hand: count it here
  local best = {}
  for i = 1, #rows, 2 do  -- ascending scores: a member's last row is its latest
    local m, score = member_of(rows[i]), rows[i + 1]
    local t = tonumber(score)
    best[m] = score
    if m ~= member then
      for w = 1, #bounds do if t >= bounds[w] then counts[w] = counts[w] + 1 end end
    end
  end
  for m, score in pairs(best) do last[#last + 1] = m; last[#last + 1] = score end
else  -- a busy token: count with ZCOUNTs (logarithmic), last-seen from the seen zset
  for w = 1, #bounds do
    counts[w] = redis.call('ZCOUNT', apps, bounds[w], now) - redis.call('ZCOUNT', mine, bounds[w], now)
  end
  rows = redis.call('ZRANGEBYSCORE', seen, oldest, '+inf', 'WITHSCORES')
  for i = 1, #rows, 2 do
    local m, score = rows[i], rows[i + 1]
    if tonumber(score) > tonumber(now) then
      score = redis.call('ZREVRANGEBYSCORE', per_member .. m, now, oldest, 'WITHSCORES', 'LIMIT', 0, 1)[2]
    end
    if score then last[#last + 1] = m; last[#last + 1] = score end
  end
end
return {status, stored, counts, last, redis.call('HVALS', markers)}
""".replace("WINDOW_SECONDS", ", ".join(repr(w.seconds) for w in WINDOWS))
