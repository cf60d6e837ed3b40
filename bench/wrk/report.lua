-- Shared by the scenario scripts. Arguments after wrk's "--": the file of order ids (one per line) and
-- the index of the first id to use, so that a measured run goes on where its warm-up stopped.
ids = {}
first = 1

function load_ids(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  first = tonumber(args[2] or "0") + 1
  math.randomseed(os.time())
end

-- One JSON line that OrderCancel.Bench reads: counts and latency percentiles in microseconds.
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"socket_errors":%d,"bad_status":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
