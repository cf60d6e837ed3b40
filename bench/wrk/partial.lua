-- partial: cancel one unit of a random line (1 to 3) of a random order of the pool.
dofile("report.lua")

function init(args)
  load_ids(args)
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format("POST", "/v1/orders/" .. ids[math.random(#ids)] .. "/cancel", nil,
    '{"reason":"out_of_stock","items":[{"line_id":' .. math.random(1, 3) .. ',"quantity":1}]}')
end
