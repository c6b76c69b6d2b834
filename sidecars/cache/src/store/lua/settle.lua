-- POST /v1/limits/settle: applies each correction at most once (a reservation's record
-- is deleted by the settle that applies it).
-- KEYS[2i-1]: correction i's record; KEYS[2i]: its counter.
-- ARGV: per correction 5 values from a = 1 + 5(i-1):
--   window   'w', sign ('+' or '-'), |delta| (us, ns part), fallback TAT (ns)
--   release  'c', lease id, -, -, -
--   budget   'b', period end ms, reserved, actual, -
local n = #KEYS / 2
for i = 1, n do
  local a = 1 + (i - 1) * 5
  local key = KEYS[2 * i]
  if redis.call('DEL', KEYS[2 * i - 1]) == 1 then
    local kind = ARGV[a]
    if kind == 'w' then
      local cus, cfr = ns_parse(redis.call('GET', key))
      local live = not ns_le(cus, cfr, now_us, 0)
      local dus, dfr = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
      local bus, bfr
      if live then
        bus, bfr = cus, cfr
      elseif ARGV[a + 1] == '+' then
        bus, bfr = ns_parse(ARGV[a + 4])
      end
      if bus then
        local nus, nfr
        if ARGV[a + 1] == '+' then
          nus, nfr = ns_add(bus, bfr, dus, dfr)
        else
          nus, nfr = ns_sub(bus, bfr, dus, dfr)
        end
        if ns_le(nus, nfr, now_us, 0) then
          redis.call('DEL', key)
        else
          redis.call('SET', key, ns_str(nus, nfr), 'PXAT', math.floor(nus / 1000) + 1)
        end
      end
    elseif kind == 'c' then
      redis.call('ZREM', key, ARGV[a + 1])
    else
      local e, reserved, actual = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
      local st = redis.call('HMGET', key, 'e', 's', 'r')
      local se = tonumber(st[1])
      if se and se * 1000 > now_us then
        local ss, sr = tonumber(st[2]) or 0, tonumber(st[3]) or 0
        if se == e then sr = math.max(sr - reserved, 0) end
        redis.call('HSET', key, 's', num(ss + actual), 'r', num(sr))
      elseif e * 1000 > now_us and actual > 0 then
        redis.call('HSET', key, 'e', num(e), 's', num(actual), 'r', '0')
        redis.call('PEXPIREAT', key, num(e))
      end
    end
  end
end
return 0
