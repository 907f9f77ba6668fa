-- wrk script for bench/run.ts.
--   wrk ... -s bench/wrk.lua URL -- PATH_TEMPLATE SEED [METHOD BODY_FILE
--     [HEADER ...]]
-- PATH_TEMPLATE is a scenario path (bench/scenarios.ts) in which {int:LO:HI}
-- is replaced by a pseudo-random integer in LO..HI for every request. Each
-- thread seeds its generator with SEED and its thread number. METHOD
-- defaults to GET; BODY_FILE ("-" for none) holds a body template, expanded
-- like the path; each HEADER is "Name: value". A request whose path and body
-- have no {int:...} is formatted once and reused.
-- done() prints one line "BENCH_RESULT {json}" that run.ts parses.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

-- Splits a template into literal strings and {lo, hi} ranges.
local function parse(template)
  local parts = {}
  local pos = 1
  while true do
    local s, e, lo, hi = string.find(template, "{int:(%d+):(%d+)}", pos)
    if s == nil then break end
    if s > pos then table.insert(parts, string.sub(template, pos, s - 1)) end
    table.insert(parts, { tonumber(lo), tonumber(hi) })
    pos = e + 1
  end
  if pos <= #template then table.insert(parts, string.sub(template, pos)) end
  return parts
end

local function constant(parts)
  for _, p in ipairs(parts) do
    if type(p) == "table" then return false end
  end
  return true
end

local function expand(parts)
  local out = {}
  for i, p in ipairs(parts) do
    if type(p) == "table" then
      out[i] = tostring(math.random(p[1], p[2]))
    else
      out[i] = p
    end
  end
  return table.concat(out)
end

local method = "GET"
local headers = {}
local path_parts = {}
local body_parts = nil
local fixed = nil

function init(args)
  local seed = tonumber(args[2]) or 1
  math.randomseed(seed * 7919 + (thread_number or 0))
  path_parts = parse(args[1] or "/")
  method = args[3] or "GET"
  local body_file = args[4] or "-"
  if body_file ~= "-" then
    local f = assert(io.open(body_file, "rb"))
    body_parts = parse(f:read("*a"))
    f:close()
  end
  -- wrk.headers holds Host (with the port), set before init runs.
  for name, value in pairs(wrk.headers) do headers[name] = value end
  for i = 5, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    if name ~= nil then headers[name] = value end
  end
  if constant(path_parts) and (body_parts == nil or constant(body_parts)) then
    fixed = wrk.format(method, expand(path_parts), headers,
      body_parts and expand(body_parts))
  end
end

function request()
  if fixed ~= nil then return fixed end
  return wrk.format(method, expand(path_parts), headers,
    body_parts and expand(body_parts))
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
