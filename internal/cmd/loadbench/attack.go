package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var allScenarios = []string{"login", "me", "register", "healthz"}

// registrations numbers the benchmark's sign-ups; with runID it makes every
// registered email unique.
var (
	registrations atomic.Uint64
	runID         = strconv.FormatInt(time.Now().UnixNano(), 36)
)

// registerPassword is what every benchmark registration sends: 8+ characters
// and not among the common passwords.
const registerPassword = "loadbench-Fresh-Passw0rd-9913"

type scenario struct {
	name, label string
	targeter    vegeta.Targeter
}

func newScenario(name, base string, sd seedData) scenario {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	switch name {
	case "login":
		bodies := make([][]byte, len(sd.emails))
		for i, e := range sd.emails {
			bodies[i] = fmt.Appendf(nil, `{"email":%q,"password":%q}`, e, seedPassword)
		}
		var n atomic.Uint64
		return scenario{name, "POST /v1/auth/login", func(t *vegeta.Target) error {
			i := n.Add(1) - 1
			*t = vegeta.Target{Method: "POST", URL: base + "/v1/auth/login",
				Body: bodies[i%uint64(len(bodies))], Header: jsonHeader}
			return nil
		}}
	case "me":
		headers := make([]http.Header, len(sd.tokens))
		for i, tok := range sd.tokens {
			headers[i] = http.Header{"Authorization": {"Bearer " + tok}}
		}
		var n atomic.Uint64
		return scenario{name, "GET /v1/me", func(t *vegeta.Target) error {
			i := n.Add(1) - 1
			*t = vegeta.Target{Method: "GET", URL: base + "/v1/me", Header: headers[i%uint64(len(headers))]}
			return nil
		}}
	case "register":
		return scenario{name, "POST /v1/auth/register", func(t *vegeta.Target) error {
			i := registrations.Add(1)
			*t = vegeta.Target{Method: "POST", URL: base + "/v1/auth/register",
				Body: fmt.Appendf(nil, `{"name":"Bench Newcomer %d","email":"new-%s-%d@example.com","password":%q}`,
					i, runID, i, registerPassword),
				Header: jsonHeader}
			return nil
		}}
	case "healthz":
		return scenario{name, "GET /healthz", func(t *vegeta.Target) error {
			*t = vegeta.Target{Method: "GET", URL: base + "/healthz"}
			return nil
		}}
	}
	panic("unknown scenario " + name)
}

// probe sends one request of the scenario; it returns why the scenario
// cannot run (its route answers 404: not built yet), or "".
func probe(ctx context.Context, sc scenario) string {
	var t vegeta.Target
	if err := sc.targeter(&t); err != nil {
		return err.Error()
	}
	req, err := t.Request()
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
	requests   uint64
	ok         uint64         // 2xx
	codes      map[int]uint64 // non-2xx statuses (0: transport error)
	samples    map[int]string // one body or error per non-2xx status
	p50, p99   time.Duration  // over every response
	peakRSSKiB uint64         // server's peak RSS during the cell (0: not measured)
	faults     uint64         // server's minor page faults during the cell
	cpu        cpuShare       // cores used during the cell
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

// attack drives sc with n closed-model clients for d: vegeta with exactly n
// workers and no rate limit, so each worker sends its next request as soon
// as the previous one answered. cp.server is the process whose RSS is
// sampled (0: none).
func attack(ctx context.Context, sc scenario, n int, d time.Duration, cp cpuProbe) cell {
	c := cell{scenario: sc.label, clients: n, codes: map[int]uint64{}, samples: map[int]string{}}
	var rss *rssSampler
	if cp.server > 0 {
		rss = startRSS(cp.server)
	}
	cpu0 := cp.read()

	atk := vegeta.NewAttacker(
		vegeta.Workers(uint64(n)), vegeta.MaxWorkers(uint64(n)),
		vegeta.Connections(n), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second),
		vegeta.Redirects(vegeta.NoFollow),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	var m vegeta.Metrics
	start := time.Now()
	for res := range atk.Attack(sc.targeter, vegeta.Rate{}, d, sc.name) {
		m.Add(res)
		c.requests++
		if res.Code >= 200 && res.Code < 300 {
			c.ok++
			continue
		}
		code := int(res.Code)
		c.codes[code]++
		if _, seen := c.samples[code]; !seen {
			s := res.Error
			if len(res.Body) > 0 {
				s = string(bytes.TrimSpace(res.Body))
			}
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			c.samples[code] = s
		}
	}
	c.elapsed = time.Since(start)
	m.Close()
	c.p50, c.p99 = m.Latencies.P50, m.Latencies.P99
	cpu1 := cp.read()
	c.cpu = cpu1.since(cpu0, c.elapsed)
	if cp.server > 0 && cpu1.serverFaults >= cpu0.serverFaults {
		c.faults = cpu1.serverFaults - cpu0.serverFaults
	}
	if rss != nil {
		c.peakRSSKiB = rss.stop()
	}
	return c
}

func sortedCodes(m map[int]uint64) []int {
	var codes []int
	for k := range m {
		codes = append(codes, k)
	}
	sort.Ints(codes)
	return codes
}
