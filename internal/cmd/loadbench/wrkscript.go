package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The wrk Lua scripts. wrk runs one Lua state per thread plus the main one:
// setup(thread) (main state) gives each thread an id, init() (thread state)
// prepares its requests, request() returns the next one, response() (only
// where statuses must be told apart: it makes wrk keep every body) counts
// them, and done() (main state) gathers the threads' counts with thread:get
// and prints one line, wrkMarker and JSON, which attack parses.
//
// Scenarios that rotate over seeded data pre-format every request in init(),
// so request() only picks the next string: the cheapest dynamic request wrk
// allows. /healthz has no request() at all: wrk then sends one pre-built
// request, its fastest path.

const luaCommon = `
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function jstr(s)
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  -- The load has stopped: let loadbench take its CPU readings, then go on.
  io.stderr:write("` + wrkStoppedMarker + `\n")
  io.stderr:flush()
  io.read("*l")
  local codes, samples, any = {}, {}, false
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    if c then
      for k, v in pairs(c) do codes[k] = (codes[k] or 0) + v; any = true end
    end
    local s = t:get("samples")
    if s then
      for k, v in pairs(s) do if samples[k] == nil then samples[k] = v end end
    end
  end
  local e = summary.errors
  local out = {}
  table.insert(out, string.format('"duration_us":%.0f,"requests":%.0f', summary.duration, summary.requests))
  table.insert(out, string.format('"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}',
    e.connect, e.read, e.write, e.status, e.timeout))
  table.insert(out, string.format('"p50_us":%.0f,"p99_us":%.0f', latency:percentile(50), latency:percentile(99)))
  -- The histogram (value in µs, count), for loadbench to undo wrk's
  -- coordinated-omission correction: latency(i) scans from the smallest
  -- value each time, so skip it when that would take too long.
  local distinct = #latency
  if os.getenv("LOADBENCH_WARMUP") == nil and distinct * (latency.max - latency.min + 1) <= 2e10 then
    local h = {}
    for i = 1, distinct do
      local v, c = latency(i)
      h[i] = string.format("[%.0f,%.0f]", v, c)
    end
    table.insert(out, '"hist":[' .. table.concat(h, ",") .. ']')
  end
  if any then
    local cs, ss = {}, {}
    for k, v in pairs(codes) do table.insert(cs, string.format('"%d":%.0f', k, v)) end
    for k, v in pairs(samples) do table.insert(ss, string.format('"%d":%s', k, jstr(v))) end
    table.insert(out, '"codes":{' .. table.concat(cs, ",") .. '}')
    table.insert(out, '"samples":{' .. table.concat(ss, ",") .. '}')
  end
  io.write("` + wrkMarker + `{" .. table.concat(out, ",") .. "}\n")
end
`

// luaCountStatuses counts every status per thread, and keeps the first
// body of each non-2xx one.
const luaCountStatuses = `
codes = {}
samples = {}

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if (status < 200 or status > 299) and samples[status] == nil then
    samples[status] = string.sub(body or "", 1, 300)
  end
end
`

// luaRotate pre-formats one request per item of items (a Lua table) with
// format(item) and hands them out in turn; each thread starts at a different
// point of the list.
const luaRotate = `
local reqs, n, i = {}, 0, 0

function init(args)
  for k, item in ipairs(items) do reqs[k] = format(item) end
  n = #reqs
  i = ((tid or 1) - 1) * math.floor(n / 2)
end

function request()
  i = i % n + 1
  return reqs[i]
end
`

// luaList writes a Lua table literal of strings.
func luaList(name string, ss []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s = {\n", name)
	for _, s := range ss {
		b.WriteString(luaQuote(s))
		b.WriteString(",\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// luaQuote quotes s as a Lua string: printable ASCII is kept, everything
// else (and quotes, backslashes) becomes a \ddd decimal escape, which Lua
// reads byte for byte.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// loginScript rotates over the seeded users' sign-in bodies (JSON, made by
// the caller).
func loginScript(bodies []string) string {
	return luaCommon + luaCountStatuses + luaList("items", bodies) + `
function format(body)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
` + luaRotate
}

// meScript rotates over the seeded bearer tokens. It relies on wrk's own
// count of statuses above 399 (no response(): it would make wrk keep and
// hand over every body, slowing the generator on the cheapest routes).
func meScript(tokens []string) string {
	return luaCommon + luaList("items", tokens) + `
function format(token)
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end
` + luaRotate
}

// registerScript sends a fresh email on every request: the run's id, the
// thread's id and the thread's own counter.
func registerScript() string {
	pw, _ := json.Marshal(registerPassword)
	return luaCommon + luaCountStatuses + `
local runid = ` + luaQuote(runID) + `
local password = ` + luaQuote(string(pw)) + ` -- JSON-quoted
local seq = 0

function request()
  seq = seq + 1
  local body = string.format('{"name":"Bench Newcomer %d","email":"new-%s-%d-%d@example.com","password":%s}',
    seq, runid, tid or 0, seq, password)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
`
}

// healthzScript sends wrk's default request (GET of the URL's path).
func healthzScript() string { return luaCommon }

// getScript rotates GET requests over paths, each with the same bearer
// token (like meScript, it relies on wrk's own count of statuses above 399).
func getScript(token string, paths []string) string {
	return luaCommon + luaList("items", paths) + `
local auth = ` + luaQuote("Bearer "+token) + `
function format(path)
  return wrk.format("GET", path, {["Authorization"] = auth})
end
` + luaRotate
}
