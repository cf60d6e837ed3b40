-- get: GET /v1/orders/{id} of a random order of the pool.
dofile("report.lua")

function init(args)
  load_ids(args)
end

function request()
  return wrk.format("GET", "/v1/orders/" .. ids[math.random(#ids)])
end
