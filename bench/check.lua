-- wrk script: GET /v1/check for numbers read from $BENCH_PROBES (one URL-encoded
-- spelling a line), in random order, with the key from $BENCH_KEY. With $BENCH_DELAY_MS,
-- each connection waits that long before each request (the soak's fixed rate).
local probes = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_PROBES")) do
    probes[#probes + 1] = line
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
end

function request()
  return wrk.format("GET", "/v1/check?number=" .. probes[math.random(#probes)])
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end
