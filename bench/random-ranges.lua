-- wrk script: GET one file with a Range header at a random offset, given as
--   wrk ... -s random-ranges.lua URL -- FILE_SIZE RANGE_BYTES
-- RANGE_BYTES 0: no Range header (the whole file every time).
local size, length = 0, 0
function init(args)
  size, length = tonumber(args[1]), tonumber(args[2])
  math.randomseed(os.time() + math.random(1000))
end
function request()
  if length == 0 then return wrk.format("GET") end
  local start = math.random(0, size - length)
  return wrk.format("GET", nil, { Range = "bytes=" .. start .. "-" .. (start + length - 1) })
end
