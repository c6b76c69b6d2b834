-- POST /v1/limits/admit, all or nothing, on Redis's clock.
-- KEYS[i]: check i's counter; KEYS[n+i]: check i's reservation record.
-- ARGV[1] = n, ARGV[2] = record TTL (ms); check i's arguments start at a = 3 + 7(i-1):
--   window       'w', T*cost (us, ns part), window (us, ns part), never (1/0), record
--   concurrency  'c', limit, lease_ms, lease id, -, -, record
--   budget       'b', limit, period_end_ms, cost, -, -, record
-- A record is written as '<what this script decided>|<ARGV record>'.
-- Reply: {refused (0: admitted), now_us, then two strings per check} with the state
-- after (admitted) or before (refused): window {tat_ns, ''}; concurrency {held,
-- earliest expiry us or ''}; budget {committed, period end ms}.
-- Or {'period', i}: check i's period end is not after Redis's clock.
local n = tonumber(ARGV[1])
local record_ttl = tonumber(ARGV[2])
local before, after, apply = {}, {}, {}
local refused = 0

for i = 1, n do
  local a = 3 + (i - 1) * 7
  local kind, key = ARGV[a], KEYS[i]
  local ok
  if kind == 'w' then
    local tus, tfr = ns_parse(redis.call('GET', key))
    if ns_le(tus, tfr, now_us, 0) then tus, tfr = now_us, 0 end
    local nus, nfr = ns_add(tus, tfr, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
    local lus, lfr = ns_add(now_us, 0, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]))
    ok = ARGV[a + 5] == '0' and ns_le(nus, nfr, lus, lfr)
    before[i] = {ns_str(tus, tfr), ''}
    after[i] = {ns_str(nus, nfr), ''}
    local write = ARGV[a + 1] ~= '0' or ARGV[a + 2] ~= '0'
    apply[i] = function()
      if write then
        redis.call('SET', key, ns_str(nus, nfr), 'PXAT', math.floor(nus / 1000) + 1)
      end
      redis.call('SET', KEYS[n + i], ns_str(nus, nfr) .. '|' .. ARGV[a + 6], 'PX', record_ttl)
    end
  elseif kind == 'c' then
    local limit, lease_ms, id = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now_us))
    local held = redis.call('ZCARD', key)
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
    local expires = now_us + lease_ms * 1000
    ok = held < limit
    before[i] = {tostring(held), first or ''}
    local next = expires
    if first and tonumber(first) < expires then next = tonumber(first) end
    after[i] = {tostring(held + 1), num(next)}
    apply[i] = function()
      redis.call('ZADD', key, num(expires), id)
      local last = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
      redis.call('PEXPIREAT', key, math.floor(last / 1000) + 1)
      redis.call('SET', KEYS[n + i], '-|' .. ARGV[a + 6], 'PX', lease_ms)
    end
  else
    local limit, e, cost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    if e * 1000 <= now_us then return {'period', tostring(i - 1)} end
    local st = redis.call('HMGET', key, 'e', 's', 'r')
    local se, ss, sr = tonumber(st[1]), tonumber(st[2]) or 0, tonumber(st[3]) or 0
    if not se or se * 1000 <= now_us or se < e then se, ss, sr = e, 0, 0 end
    local committed = ss + sr
    ok = committed < limit and committed + cost <= limit
    before[i] = {num(committed), num(se)}
    after[i] = {num(committed + cost), num(se)}
    apply[i] = function()
      redis.call('HSET', key, 'e', num(se), 's', num(ss), 'r', num(sr + cost))
      redis.call('PEXPIREAT', key, num(se))
      redis.call('SET', KEYS[n + i], num(se) .. '|' .. ARGV[a + 6], 'PX', record_ttl)
    end
  end
  if not ok and refused == 0 then refused = i end
end

local out = {tostring(refused), num(now_us)}
local states = after
if refused > 0 then
  states = before
else
  for i = 1, n do apply[i]() end
end
for i = 1, n do
  out[#out + 1] = states[i][1]
  out[#out + 1] = states[i][2]
end
return out
