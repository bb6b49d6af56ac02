-- wrk script: GET GetTumOlumlerByDate?Tarih=<day> with Basic auth (every form registered that
-- day, ~1,450 on the benchmark store), cycling through the days given.
--
--   OBS_BENCH_AUTH="$(printf 'obsbench:PASSWORD' | base64)" OBS_BENCH_DAYS=2026-11-14 \
--     wrk -t2 -c64 -d15s --latency -s benchmarks/obs_by_date.lua http://127.0.0.1:18090
--
-- OBS_BENCH_DAYS: comma-separated yyyy-mm-dd days (run_obs.py passes one: the loader's busy day).
-- OBS_BENCH_PREFIX: the method path (default: the live GetTumOlumlerByDate).

local requests = {}
local index = 0

function init(args)
  local auth = assert(os.getenv("OBS_BENCH_AUTH"), "set OBS_BENCH_AUTH (base64 user:password)")
  local days = assert(os.getenv("OBS_BENCH_DAYS"), "set OBS_BENCH_DAYS")
  local prefix = os.getenv("OBS_BENCH_PREFIX") or "/services/g2g/saglik/OBS/GetTumOlumlerByDate"
  local headers = { ["Authorization"] = "Basic " .. auth }
  for day in string.gmatch(days, "[^,%s]+") do
    requests[#requests + 1] = wrk.format("GET", prefix .. "?Tarih=" .. day, headers)
  end
  assert(#requests > 0, "no days in OBS_BENCH_DAYS")
end

function request()
  index = index % #requests + 1
  return requests[index]
end
