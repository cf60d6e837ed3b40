-- partial: cancel one unit of a random line (1 to 3) of a random order of the pool. Line ids are unique across orders;
-- the seeder gives the Nth line of order O the id O * 1000 + N, so the script can name one without reading the order.
dofile("report.lua")

function init(args)
  load_ids(args)
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("POST", "/v1/orders/" .. id .. "/cancel", nil,
    '{"reason":"out_of_stock","items":[{"line_id":' .. string.format("%d", id * 1000 + math.random(1, 3)) .. ',"quantity":1}]}')
end
