-- wrk: a player's progress report, PATCH /library/{asin}/progress, a new position each time.
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
local position = 0
request = function()
  position = (position + 1000) % 3000000
  return wrk.format(nil, nil, nil, '{"position_ms": ' .. position .. ', "playback_speed": 1.25}')
end
