-- wrk script: POSTs the chat request in $BENCH_BODY to /v1/chat/completions and, when
-- done, prints one line "BENCH_JSON {...}" with exact latency percentiles (microseconds).
local path = os.getenv("BENCH_BODY")
assert(path, "BENCH_BODY must name the request body file")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
-- The bench consumer's virtual key (identity + limits at work); empty: anonymous.
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
-- The mock answers with exactly this many output tokens, so every response is alike.
wrk.headers["x-mock-output-tokens"] = os.getenv("BENCH_OUTPUT_TOKENS") or "64"
-- BENCH_MOCK_CONTENT: the answer's text instead of the mock's echo (e.g. valid JSON).
local content = os.getenv("BENCH_MOCK_CONTENT")
if content and content ~= "" then
  wrk.headers["x-mock-content"] = content
end

-- BENCH_UNIQUE=1: every request's body has its `BENCH_UNIQUE` marker replaced by a number
-- of its own (a new question each time: cache misses).
if os.getenv("BENCH_UNIQUE") == "1" then
  local n = 0
  local run = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
  request = function()
    n = n + 1
    local b = body:gsub("BENCH_UNIQUE", run .. "-" .. n, 1)
    return wrk.format(nil, nil, nil, b)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"min_us":%d,"mean_us":%.1f,"max_us":%d,"stdev_us":%.1f,' ..
    '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
