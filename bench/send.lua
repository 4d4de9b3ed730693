-- W4 for wrk: each request a DM from the next (token, recipient) pair given after `--`;
-- done() prints one JSON line of counts and latencies (microseconds).
local pairs_ = {}
local i = 0
function init(args)
  for k = 1, #args, 2 do
    table.insert(pairs_, {args[k], args[k+1]})
  end
end
function request()
  i = i + 1
  local p = pairs_[(i % #pairs_) + 1]
  return wrk.format("POST", "/api/v2/messages", {["Authorization"] = "Bearer " .. p[1], ["Content-Type"] = "application/json"}, '{"to":"' .. p[2] .. '","body":"wrk message ' .. i .. '"}')
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
