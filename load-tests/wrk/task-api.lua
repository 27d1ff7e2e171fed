-- wrk script for the task API benchmark. MODE (get | list | create), TOKEN and IDS_FILE
-- come from the environment; IDS_FILE holds one task id per line (for get).
local mode = os.getenv("MODE") or "get"
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  ["Content-Type"] = "application/json",
}
local ids = {}

function init(args)
  if mode == "get" then
    for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
  end
  math.randomseed(os.time() + (args[1] and tonumber(args[1]) or 0))
end

local counter = 0
function request()
  if mode == "get" then
    return wrk.format("GET", "/api/v1/tasks/" .. ids[math.random(#ids)], headers)
  elseif mode == "list" then
    return wrk.format("GET", "/api/v1/tasks?limit=20&status=todo", headers)
  else
    counter = counter + 1
    local body = '{"title":"bench ' .. counter .. '","priority":"high","due_at":"2027-01-01T00:00:00Z"}'
    return wrk.format("POST", "/api/v1/tasks", headers, body)
  end
end

local failures = 0
function response(status)
  if status >= 300 then failures = failures + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
