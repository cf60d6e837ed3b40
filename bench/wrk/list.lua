-- list: the first page of pending orders.
dofile("report.lua")

function init(args)
  load_ids(args)
end

function request()
  return wrk.format("GET", "/v1/orders?status=pending&limit=20")
end
