-- cancel: a full immediate cancel, each of a different pending order (the pool is taken in order).
dofile("report.lua")

local next_id

function init(args)
  load_ids(args)
  wrk.headers["Content-Type"] = "application/json"
  next_id = first
end

function request()
  local id = ids[math.min(next_id, #ids)]
  next_id = next_id + 1
  return wrk.format("POST", "/v1/orders/" .. id .. "/cancel", nil, '{"reason":"customer_request"}')
end
