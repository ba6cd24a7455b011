-- wrk script: replay pre-signed Zendesk deliveries, a different body (event id) per request, so the
-- bot's dedupe never short-circuits. Signatures cannot be computed in wrk's Lua (no HMAC), so
-- tests/bench/loadgen.py writes them to a file: one "timestamp<TAB>signature<TAB>body" line each.
-- Usage: wrk -t1 -c16 -d8s -s replay.lua URL -- FILE PATH
local reqs = {}
local n = 0
local i = 0
local threads = {}
wrapped = 0
codes = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local stamp, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    n = n + 1
    reqs[n] = wrk.format("POST", args[2], {
      ["Content-Type"] = "application/json",
      ["X-Zendesk-Webhook-Signature"] = sig,
      ["X-Zendesk-Webhook-Signature-Timestamp"] = stamp,
    }, body)
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wrapped = wrapped + 1
  end
  return reqs[i]
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local status = {}
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + thread:get("wrapped")
    for code, count in pairs(thread:get("codes")) do
      status[code] = (status[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(status) do
    table.insert(parts, string.format('"%d": %d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "non_2xx": %d, "wrapped": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d, "status": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status, wraps,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ", ")))
end
