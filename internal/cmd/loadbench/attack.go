package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var allScenarios = []string{"login", "me", "register", "healthz", "admin-list", "admin-search-rare",
	"admin-search-common", "events", "purge"}

// extraScenarios run only when named in -scenarios: login-overload is
// meant for four times the clients the hashing slots serve in time
// (-scenarios login-overload -clients 256).
var extraScenarios = []string{"login-overload"}

// runID makes every email the benchmark registers unique across runs.
var runID = strconv.FormatInt(time.Now().UnixNano(), 36)

// registerPassword is what every benchmark registration sends: 8+ characters
// and not among the common passwords.
const registerPassword = "loadbench-Fresh-Passw0rd-9913"

// errNoWrk is the whole message when wrk is missing.
var errNoWrk = errors.New("wrk not found: apt-get install wrk")

// scenario is one route under load: the Lua script that makes wrk send its
// requests, and one request of the same kind for the probe.
type scenario struct {
	name, label string
	url         string // what wrk is pointed at
	script      string // wrk Lua script
	probe       func() (*http.Request, error)
	// during, if set, runs while the measured load runs (it starts with
	// it); what it returns is reported beside the cell.
	during func(context.Context) (string, error)
	// request, if set, builds the i-th request for clients of the tool's
	// own (the overload scenario).
	request func(i int) (*http.Request, error)
}

func newScenario(name, base string, sd seedData) scenario {
	switch name {
	case "login":
		bodies := make([]string, len(sd.emails))
		for i, e := range sd.emails {
			b, _ := json.Marshal(map[string]string{"email": e, "password": seedPassword})
			bodies[i] = string(b)
		}
		return scenario{name, "POST /v1/auth/login", base + "/v1/auth/login", loginScript(bodies),
			func() (*http.Request, error) {
				return jsonRequest(base+"/v1/auth/login", bodies[0])
			}, nil, nil}
	case "me":
		return scenario{name, "GET /v1/me", base + "/v1/me", meScript(sd.tokens),
			func() (*http.Request, error) {
				req, err := http.NewRequest("GET", base+"/v1/me", nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+sd.tokens[0])
				}
				return req, err
			}, nil, nil}
	case "register":
		return scenario{name, "POST /v1/auth/register", base + "/v1/auth/register", registerScript(),
			func() (*http.Request, error) {
				b, _ := json.Marshal(map[string]string{"name": "Bench Newcomer 0",
					"email": "new-" + runID + "-probe@example.com", "password": registerPassword})
				return jsonRequest(base+"/v1/auth/register", string(b))
			}, nil, nil}
	case "healthz":
		return scenario{name, "GET /healthz", base + "/healthz", healthzScript(),
			func() (*http.Request, error) { return http.NewRequest("GET", base+"/healthz", nil) }, nil, nil}
	case "admin-list":
		return adminScenario(name, "GET /v1/admin/users (first page)", base, sd.adminToken, []string{"/v1/admin/users?limit=50"})
	case "admin-search-rare":
		paths := make([]string, len(sd.rareQs))
		for i, q := range sd.rareQs {
			paths[i] = "/v1/admin/users?limit=50&q=" + url.QueryEscape(q)
		}
		return adminScenario(name, "GET /v1/admin/users?q=rare", base, sd.adminToken, paths)
	case "admin-search-common":
		return adminScenario(name, "GET /v1/admin/users?q=common", base, sd.adminToken,
			[]string{"/v1/admin/users?limit=50&q=" + url.QueryEscape(sd.commonQ)})
	case "events":
		paths := make([]string, len(sd.userIDs))
		for i, id := range sd.userIDs {
			paths[i] = "/v1/admin/users/" + url.PathEscape(id) + "/events?limit=50"
		}
		return adminScenario(name, "GET /v1/admin/users/{id}/events", base, sd.adminToken, paths)
	case "login-overload":
		return overloadScenario(base, sd)
	case "purge":
		sc := newScenario("me", base, sd)
		sc.name, sc.label = name, "GET /v1/me during purge"
		sc.during = func(ctx context.Context) (string, error) { return purgeExpired(ctx, sd) }
		return sc
	}
	panic("unknown scenario " + name)
}

// adminScenario rotates GET requests over paths with the admin's session.
func adminScenario(name, label, base, token string, paths []string) scenario {
	return scenario{name, label, base, getScript(token, paths), func() (*http.Request, error) {
		req, err := http.NewRequest("GET", base+paths[0], nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req, err
	}, nil, nil}
}

func jsonRequest(url, body string) (*http.Request, error) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// probe sends one request of the scenario; it returns why the scenario
// cannot run (its route answers 404: not built yet), or "".
func probe(ctx context.Context, sc scenario) string {
	req, err := sc.probe()
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return "probe request failed: " + err.Error()
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Sprintf("route answers 404 (not built yet?): %s", bytes.TrimSpace(body))
	}
	if resp.StatusCode/100 != 2 {
		step("WARNING: probe of %s answered %d: %s", sc.label, resp.StatusCode, bytes.TrimSpace(body))
	}
	return ""
}

// cell is one scenario at one client count.
type cell struct {
	scenario string
	clients  int
	skipped  string

	elapsed    time.Duration
	requests   uint64         // answers + transport errors
	ok         uint64         // 2xx (where wrk's own count is used: answers with a status below 400)
	codes      map[int]uint64 // non-2xx statuses (0: transport error)
	samples    map[int]string // one body or error per non-2xx status
	p50, p99   time.Duration  // over every answer
	peakRSSKiB uint64         // server's peak RSS during the cell (0: not measured)
	faults     uint64         // server's minor page faults during the cell
	cpu        cpuShare       // cores used during the cell
	corrected  bool           // p50/p99 are wrk's, with its coordinated-omission correction
	limit      *hashSample    // hashing scenarios: mean of the hashing limits measured before and after the cell
	floor      *cell          // the bare baseline run right after this cell, if any
	note       string         // what the scenario's during reported
}

func (c cell) rate() float64 {
	if c.elapsed <= 0 {
		return 0
	}
	return float64(c.ok) / c.elapsed.Seconds()
}

func (c cell) errors() uint64 { return c.requests - c.ok }

// invalid reports whether errors dominate the cell.
func (c cell) invalid() bool {
	return c.skipped == "" && (c.requests == 0 || c.errors()*2 > c.requests)
}

// wrkConfig says how wrk is run.
type wrkConfig struct {
	path    string        // the wrk binary
	threads int           // wrk -t
	dir     string        // where the Lua scripts are written
	warmup  time.Duration // unmeasured load on the fresh server before each cell (0: none)
}

// lookWrk finds the wrk binary (a name or a path).
func lookWrk(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", errNoWrk
	}
	return p, nil
}

// wrkResult is what the scripts' done() prints, on one line after the
// marker.
type wrkResult struct {
	DurationUS float64           `json:"duration_us"`
	Requests   uint64            `json:"requests"`
	Errors     map[string]uint64 `json:"errors"` // connect read write status timeout
	P50US      float64           `json:"p50_us"` // wrk's, after its coordinated-omission correction
	P99US      float64           `json:"p99_us"`
	Hist       [][2]uint64       `json:"hist"`    // (µs, count), corrected likewise; nil when skipped
	Codes      map[string]uint64 `json:"codes"`   // per status, when the script counts them
	Samples    map[string]string `json:"samples"` // first body per non-2xx status
}

const (
	wrkMarker        = "LOADBENCH-RESULT "
	wrkStoppedMarker = "LOADBENCH-STOPPED" // on stderr, when the load stops; done() then waits for a line on stdin
)

// runWrk runs wrk with script against url: n connections for d (whole
// seconds: wrk takes no less). When the load stops, before wrk's done()
// does its slower work, it calls stopped with wrk's pid (wrk is paused,
// still alive). It returns the parsed result line.
func runWrk(ctx context.Context, wc wrkConfig, scriptPath, url string, n int, d time.Duration, warmup bool,
	stopped func(pid int)) (wrkResult, error) {
	secs := max(1, int((d+time.Second-1)/time.Second))
	cmd := exec.CommandContext(ctx, wc.path, "-t"+strconv.Itoa(min(wc.threads, n)), "-c"+strconv.Itoa(n),
		"-d"+strconv.Itoa(secs)+"s", "--timeout", "30s", "--latency", "-s", scriptPath, url)
	cmd.Env = os.Environ()
	if warmup {
		cmd.Env = append(cmd.Env, "LOADBENCH_WARMUP=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us; we stop it
	var out bytes.Buffer
	cmd.Stdout = &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return wrkResult{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return wrkResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return wrkResult{}, err
	}
	var errOut []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if sc.Text() != wrkStoppedMarker {
			errOut = append(errOut, sc.Text())
			continue
		}
		if stopped != nil {
			stopped(cmd.Process.Pid)
		}
		io.WriteString(stdin, "go\n")
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s%s", err, strings.Join(errOut, "; "), lastLines(out.Bytes(), 5))
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if js, ok := strings.CutPrefix(line, wrkMarker); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				return r, fmt.Errorf("wrk result %.300q: %w", js, err)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk printed no result line: %s%s", strings.Join(errOut, "; "), lastLines(out.Bytes(), 10))
}

// attack drives sc with n closed-model clients for d: wrk with n
// connections, each sending its next request as soon as the previous one
// answered, with keep-alive, run as a process of its own. First, unless
// wc.warmup is 0, the same load for wc.warmup, unmeasured: a fresh server
// (and its new PostgreSQL connections) answers slowly for its first few
// hundred milliseconds. cp.server is the process whose RSS is sampled (0:
// none); wrk's CPU, read from /proc/<pid>/stat when the load stops, is the
// "gen" column.
func attack(ctx context.Context, sc scenario, n int, d time.Duration, cp cpuProbe, wc wrkConfig) (cell, error) {
	c := cell{scenario: sc.label, clients: n, codes: map[int]uint64{}, samples: map[int]string{}}
	scriptPath := filepath.Join(wc.dir, sc.name+".lua")
	if err := os.WriteFile(scriptPath, []byte(sc.script), 0o644); err != nil {
		return c, err
	}
	if wc.warmup > 0 {
		if _, err := runWrk(ctx, wc, scriptPath, sc.url, n, wc.warmup, true, nil); err != nil {
			return c, fmt.Errorf("warm-up: %w", err)
		}
	}

	var rss *rssSampler
	if cp.server > 0 {
		rss = startRSS(cp.server)
	}
	var cpu0, cpu1 cpuSample
	var wall time.Duration
	cpu0 = cp.read()
	start := time.Now()
	type result struct {
		note string
		err  error
	}
	var during chan result
	if sc.during != nil {
		during = make(chan result, 1)
		go func() {
			note, err := sc.during(ctx)
			during <- result{note, err}
		}()
	}
	r, err := runWrk(ctx, wc, scriptPath, sc.url, n, d, false, func(pid int) {
		wall = time.Since(start)
		cpu1 = cp.read()
		cpu1.gen, _ = procTicks(strconv.Itoa(pid))
		if rss != nil {
			c.peakRSSKiB = rss.stop()
			rss = nil
		}
	})
	if rss != nil {
		rss.stop()
	}
	if during != nil {
		r := <-during
		if r.err != nil {
			return c, fmt.Errorf("during the load: %w", r.err)
		}
		c.note = r.note
		if d := time.Since(start); d > wall+time.Second {
			c.note += fmt.Sprintf(" (it outlasted the measured load by %s)", (d - wall).Round(time.Millisecond))
		}
	}
	if err != nil {
		return c, err
	}
	if wall == 0 {
		return c, errors.New("wrk never reported the end of the load")
	}
	c.cpu = cpu1.since(cpu0, wall)
	if cp.server > 0 && cpu1.serverFaults >= cpu0.serverFaults {
		c.faults = cpu1.serverFaults - cpu0.serverFaults
	}

	c.elapsed = time.Duration(r.DurationUS) * time.Microsecond
	var total uint64
	if r.Hist != nil {
		c.p50, c.p99, total = uncorrectedPercentiles(r, n)
	}
	if total != r.Requests { // no histogram, or not the correction this code undoes
		if r.Hist != nil {
			step("WARNING: %s @%d: wrk's latency histogram holds %d samples once uncorrected, not the %d answers; "+
				"reporting wrk's corrected percentiles", sc.label, n, total, r.Requests)
		}
		c.p50 = time.Duration(r.P50US * float64(time.Microsecond))
		c.p99 = time.Duration(r.P99US * float64(time.Microsecond))
		c.corrected = true
	}
	transport := r.Errors["connect"] + r.Errors["read"] + r.Errors["write"]
	c.requests = r.Requests + transport
	if r.Codes != nil { // the script counted every status
		for k, v := range r.Codes {
			code, _ := strconv.Atoi(k)
			if code >= 200 && code < 300 {
				c.ok += v
				continue
			}
			c.codes[code] += v
			c.samples[code] = truncate(strings.TrimSpace(r.Samples[k]))
		}
	} else { // wrk's own count: status > 399
		c.ok = r.Requests - min(r.Requests, r.Errors["status"])
		if s := r.Errors["status"]; s > 0 {
			c.codes[-1] = s
			c.samples[-1] = "(wrk counts them without keeping statuses; rerun the scenario with curl to see one)"
		}
	}
	if transport > 0 {
		c.codes[0] = transport
		c.samples[0] = fmt.Sprintf("connect %d, read %d, write %d", r.Errors["connect"], r.Errors["read"], r.Errors["write"])
	}
	if t := r.Errors["timeout"]; t > 0 {
		step("WARNING: %s @%d: wrk counted %d timeouts (answers over 30 s)", sc.label, n, t)
	}
	return c, nil
}

// uncorrectedPercentiles undoes wrk's "coordinated omission" correction
// and returns p50 and p99 of the latencies it actually recorded. At the end
// of a run wrk 4.x (stats_correct) takes expected = duration /
// (requests / connections), the mean time per request on one connection,
// and for every recorded latency n of at least 2·expected adds one phantom
// sample at each of n−expected, n−2·expected, ... while above expected. That
// models a client sending at a fixed rate; these clients send the next
// request when the previous one answers (closed model), so the phantoms
// are requests that were never sent, and a few slow answers (a fresh
// server's first ones) inflate p99 by orders of magnitude. Since the
// phantoms of n go only below n, walking down from the largest value
// recovers the real counts exactly.
//
// It also returns how many samples remain, which must be the number of
// answers wrk counted.
func uncorrectedPercentiles(r wrkResult, conns int) (p50, p99 time.Duration, n uint64) {
	if len(r.Hist) == 0 {
		return 0, 0, 0
	}
	counts := map[uint64]int64{}
	for _, vc := range r.Hist {
		counts[vc[0]] += int64(vc[1])
	}
	perConn := uint64(r.Requests) / uint64(conns)
	if perConn > 0 {
		e := uint64(r.DurationUS) / perConn
		if e > 0 {
			// real[m] = wrk[m] − Σ_{k≥1} real[m+k·e] for m > e. Walking
			// down over the histogram's values only is enough: a real
			// count at m+k·e (k ≥ 2) put phantoms at every m+j·e between,
			// so the chain from m upwards has no gaps.
			vals := make([]uint64, 0, len(r.Hist))
			for _, vc := range r.Hist {
				vals = append(vals, vc[0])
			}
			sort.Slice(vals, func(i, j int) bool { return vals[i] > vals[j] })
			above := map[uint64]int64{} // m → Σ_{k≥1} real[m+k·e]
			for _, m := range vals {
				if m <= e {
					break
				}
				sub := above[m]
				counts[m] = max(0, counts[m]-sub)
				above[m-e] = sub + counts[m]
			}
		}
	}
	type vc struct {
		v uint64
		c int64
	}
	var hs []vc
	var total int64
	for v, c := range counts {
		if c > 0 {
			hs = append(hs, vc{v, c})
			total += c
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].v < hs[j].v })
	pct := func(p float64) time.Duration {
		rank := int64(math.Ceil(p / 100 * float64(total)))
		var cum int64
		for _, h := range hs {
			cum += h.c
			if cum >= max(rank, 1) {
				return time.Duration(h.v) * time.Microsecond
			}
		}
		return 0
	}
	return pct(50), pct(99), uint64(total)
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return "\n" + strings.Join(lines, "\n")
}

func sortedCodes(m map[int]uint64) []int {
	var codes []int
	for k := range m {
		codes = append(codes, k)
	}
	sort.Ints(codes)
	return codes
}

// wrkVersion is the first line of "wrk -v", e.g. "wrk debian/4.1.0-3+b2 [epoll]".
func wrkVersion(path string) string {
	out, _ := exec.Command(path, "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	line, _, _ = strings.Cut(line, " Copyright")
	return strings.TrimSpace(line)
}
