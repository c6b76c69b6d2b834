-- PUT /v1/cache/{ns}/{key}: stores the body under the namespace's current generation,
-- stamped with Redis's clock.
-- KEYS[1]: the namespace's generation; ARGV: entry key prefix, '/' .. key, body, TTL ms.
local gen = redis.call('GET', KEYS[1]) or '0'
local k = ARGV[1] .. gen .. ARGV[2]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', k)
redis.call('HSET', k, 't', string.format('%.0f', now_ms), 'b', ARGV[3])
redis.call('PEXPIRE', k, ARGV[4])
return 0
