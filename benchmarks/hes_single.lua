-- wrk script: POST {"hes_code": ...} with Basic auth, cycling through many codes.
--
--   HES_BENCH_AUTH="$(printf 'bench:PASSWORD' | base64)" HES_BENCH_CODES=codes.txt \
--     wrk -t2 -c64 -d20s --latency -s benchmarks/hes_single.lua \
--     http://127.0.0.1:18080/services/g2g/saglik/hes/check-employee-hes-code
--
-- HES_BENCH_CODES: one code per line (run_hes.py writes a shuffled mix of found codes and a few
-- unknown ones). Every thread starts at its own offset so the threads do not ask in lock step.

local codes = {}
local requests = {}
local index = 0

local function read_codes(path)
  local list = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if #line > 0 then
      list[#list + 1] = line
    end
  end
  file:close()
  assert(#list > 0, "no codes in " .. path)
  return list
end

local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_number", thread_counter)
end

function init(args)
  local auth = assert(os.getenv("HES_BENCH_AUTH"), "set HES_BENCH_AUTH (base64 user:password)")
  codes = read_codes(assert(os.getenv("HES_BENCH_CODES"), "set HES_BENCH_CODES"))
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Basic " .. auth,
  }
  for i, code in ipairs(codes) do
    requests[i] = wrk.format("POST", nil, headers, '{"hes_code": "' .. code .. '"}')
  end
  index = ((thread_number or 1) * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end
