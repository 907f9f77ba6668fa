-- wrk script for bench/run.ts.
--   wrk ... -s bench/wrk.lua URL -- PATH_TEMPLATE SEED
-- PATH_TEMPLATE is a scenario path (bench/scenarios.ts) in which {int:LO:HI}
-- is replaced by a pseudo-random integer in LO..HI for every request. Each
-- thread seeds its generator with SEED and its thread number.
-- done() prints one line "BENCH_RESULT {json}" that run.ts parses.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

local parts = {}

function init(args)
  local template = args[1] or "/"
  local seed = tonumber(args[2]) or 1
  math.randomseed(seed * 7919 + (thread_number or 0))
  -- Split the template once into literal strings and {lo, hi} ranges.
  local pos = 1
  while true do
    local s, e, lo, hi = string.find(template, "{int:(%d+):(%d+)}", pos)
    if s == nil then break end
    if s > pos then table.insert(parts, string.sub(template, pos, s - 1)) end
    table.insert(parts, { tonumber(lo), tonumber(hi) })
    pos = e + 1
  end
  if pos <= #template then table.insert(parts, string.sub(template, pos)) end
end

function request()
  local out = {}
  for i, p in ipairs(parts) do
    if type(p) == "table" then
      out[i] = tostring(math.random(p[1], p[2]))
    else
      out[i] = p
    end
  end
  return wrk.format("GET", table.concat(out))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status))
end
