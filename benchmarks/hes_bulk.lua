-- wrk script: POST check-hes-codes with 500 codes per request and Basic auth.
--
--   HES_BENCH_AUTH="$(printf 'bench:PASSWORD' | base64)" HES_BENCH_CODES=codes.txt \
--     wrk -t2 -c4 -d10s --latency -s benchmarks/hes_bulk.lua \
--     http://127.0.0.1:18080/services/g2g/saglik/hes/check-hes-codes
--
-- Bodies are windows of 500 consecutive codes of HES_BENCH_CODES (HES_BENCH_BULK overrides 500),
-- taken at different offsets so successive requests ask for different codes.

local requests = {}
local index = 0
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_number", thread_counter)
end

function init(args)
  local auth = assert(os.getenv("HES_BENCH_AUTH"), "set HES_BENCH_AUTH (base64 user:password)")
  local path = assert(os.getenv("HES_BENCH_CODES"), "set HES_BENCH_CODES")
  local size = tonumber(os.getenv("HES_BENCH_BULK") or "500")
  local codes = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if #line > 0 then
      codes[#codes + 1] = line
    end
  end
  file:close()
  assert(#codes >= size, "need at least " .. size .. " codes")
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Basic " .. auth,
  }
  local bodies = 64
  for b = 1, bodies do
    local start = ((b - 1) * 311) % (#codes - size + 1)
    local items = {}
    for i = 1, size do
      items[i] = '{"hes_code": "' .. codes[start + i] .. '"}'
    end
    requests[b] = wrk.format("POST", nil, headers, "[" .. table.concat(items, ",") .. "]")
  end
  index = (thread_number or 1) * 13 % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end
