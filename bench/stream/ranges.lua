-- wrk script: every request asks for a random byte range of BENCH_CHUNK bytes out of a file of
-- BENCH_SIZE bytes, the way a seeking player does. BENCH_AUTH, when set, is sent as the
-- Authorization header (nginx ignores it; earmark needs it).
local size = tonumber(os.getenv("BENCH_SIZE"))
local chunk = tonumber(os.getenv("BENCH_CHUNK"))
local auth = os.getenv("BENCH_AUTH")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed)
  if auth and auth ~= "" then
    wrk.headers["Authorization"] = auth
  end
end

function request()
  local start = math.random(0, size - chunk)
  wrk.headers["Range"] = "bytes=" .. start .. "-" .. (start + chunk - 1)
  return wrk.format("GET")
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT requests=%d seconds=%.3f non2xx=%d p99_ms=%.2f\n",
    summary.requests, summary.duration / 1e6, non2xx, latency:percentile(99) / 1000))
end
