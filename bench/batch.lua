-- wrk script: POST /v1/check with the batch in $BENCH_BODY (a JSON file, {"numbers": […]}),
-- with the key from $BENCH_KEY (bench/levels with LEVELS_LOAD=batch).
local body

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
  body = f:read("*a")
  f:close()
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format("POST", "/v1/check", nil, body)
end
