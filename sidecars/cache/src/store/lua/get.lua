-- GET /v1/cache/{ns}/{key}: the entry under the namespace's current generation, with its
-- age on Redis's clock, or nothing.
-- KEYS[1]: the namespace's generation; ARGV: entry key prefix, '/' .. key, max age in
-- seconds (-1: none).
local gen = redis.call('GET', KEYS[1]) or '0'
local v = redis.call('HMGET', ARGV[1] .. gen .. ARGV[2], 't', 'b')
if not v[1] then return false end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local age = math.floor(math.max(now_ms - tonumber(v[1]), 0) / 1000)
local max_age = tonumber(ARGV[3])
if max_age >= 0 and age > max_age then return false end
return {v[2], age}
