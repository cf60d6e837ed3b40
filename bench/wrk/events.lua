-- events: a page of 100 of GET /v1/events from a random cursor of the pool (positions spread over the feed).
dofile("report.lua")

function init(args)
  load_ids(args)
end

function request()
  return wrk.format("GET", "/v1/events?limit=100&cursor=" .. ids[math.random(#ids)])
end
