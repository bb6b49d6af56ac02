-- wrk script: GET GetOlumByTcKimlikNoFull with Basic auth, cycling through sampled deaths.
--
--   OBS_BENCH_AUTH="$(printf 'obsbench:PASSWORD' | base64)" OBS_BENCH_QUERIES=queries.txt \
--     wrk -t2 -c64 -d15s --latency -s benchmarks/obs_tc_full.lua http://127.0.0.1:18090
--
-- OBS_BENCH_QUERIES: one request path + query string per line, already URL-encoded (run_obs.py
-- writes them from the loader's sample: TcKimlikNo, Adi, Soyadi in display case with Turkish
-- letters, DogumTarihi), e.g.
--   /services/g2g/saglik/OBS/GetOlumByTcKimlikNoFull?TcKimlikNo=...&Adi=G%C4%B0ZEM&...
-- Every thread starts at its own offset so the threads do not ask in lock step.

local requests = {}
local index = 0
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_number", thread_counter)
end

function init(args)
  local auth = assert(os.getenv("OBS_BENCH_AUTH"), "set OBS_BENCH_AUTH (base64 user:password)")
  local path = assert(os.getenv("OBS_BENCH_QUERIES"), "set OBS_BENCH_QUERIES")
  local headers = { ["Authorization"] = "Basic " .. auth }
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", line, headers)
    end
  end
  file:close()
  assert(#requests > 0, "no queries in " .. path)
  index = ((thread_number or 1) * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end
