-- Shared by the counter scripts (prepended to each). Lua numbers are doubles, exact to
-- 2^53 only, and nanoseconds since the epoch are ~2^60: a TAT is held as a pair
-- (microseconds, nanoseconds 0..999) and stored as its decimal nanoseconds.
local function ns_parse(s)
  if not s then return 0, 0 end
  local len = #s
  if len <= 3 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, len - 3)), tonumber(string.sub(s, len - 2))
end

local function ns_str(us, fr)
  if us == 0 then return tostring(fr) end
  return string.format('%.0f%03d', us, fr)
end

-- (aus, afr) <= (bus, bfr)
local function ns_le(aus, afr, bus, bfr)
  return aus < bus or (aus == bus and afr <= bfr)
end

local function ns_add(aus, afr, bus, bfr)
  local us, fr = aus + bus, afr + bfr
  if fr >= 1000 then us, fr = us + 1, fr - 1000 end
  return us, fr
end

-- max(a - b, 0)
local function ns_sub(aus, afr, bus, bfr)
  if ns_le(aus, afr, bus, bfr) then return 0, 0 end
  local us, fr = aus - bus, afr - bfr
  if fr < 0 then us, fr = us - 1, fr + 1000 end
  return us, fr
end

local function num(n) return string.format('%.0f', n) end

local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
