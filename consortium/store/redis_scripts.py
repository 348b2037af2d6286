"""Lua scripts of the Redis store. Each touches the keys of one hash tag only (Cluster-safe).

See consortium/store/redis.py for the key layout and the invariants these scripts keep.
"""

from __future__ import annotations

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

# Deletes one hash field if it still holds the expected value. ARGV: field, expected. Returns 1
# when deleted.
DELETE_FIELD_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# Deletes an application record received before ARGV[1]. Returns 1 when deleted.
DELETE_OLDER = """
local at = redis.call('HGET', KEYS[1], 'received_at')
if at and tonumber(at) < tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""
