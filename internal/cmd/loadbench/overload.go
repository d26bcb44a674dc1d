package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The overload scenario: POST /v1/auth/login from more clients than the
// hashing slots can serve in time. wrk reports one latency histogram for
// all answers, so this scenario drives the server with closed-loop clients
// of its own (Go net/http, one goroutine and one keep-alive connection
// each) and keeps the latencies of admitted answers (2xx) apart from those
// of refusals (503, which must carry Retry-After).

// overloadResult is what the overload clients saw.
type overloadResult struct {
	clients             int
	duration            time.Duration
	admitted, refused   []time.Duration
	noRetryAfter, other int // 503s without Retry-After; any other status or error
	otherSample         string
}

func (r overloadResult) String() string {
	pct := func(ds []time.Duration, p float64) string {
		if len(ds) == 0 {
			return "-"
		}
		return ms(ds[min(len(ds)-1, int(float64(len(ds))*p))])
	}
	return fmt.Sprintf("%d clients, %s: admitted %d (%.1f/s) p50 %s p99 %s max %s; refused 503 %d (%.1f/s) p50 %s p99 %s max %s, %d without Retry-After; other %d%s",
		r.clients, r.duration, len(r.admitted), float64(len(r.admitted))/r.duration.Seconds(),
		pct(r.admitted, 0.50), pct(r.admitted, 0.99), pct(r.admitted, 1),
		len(r.refused), float64(len(r.refused))/r.duration.Seconds(),
		pct(r.refused, 0.50), pct(r.refused, 0.99), pct(r.refused, 1), r.noRetryAfter, r.other, r.otherSample)
}

// overload runs n clients sending sc's requests in turn for d and returns
// what they saw, latencies sorted.
func overload(ctx context.Context, sc scenario, n int, d time.Duration) overloadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	res := overloadResult{clients: n, duration: d}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i += n {
				req, err := sc.request(i)
				if err != nil {
					return
				}
				began := time.Now()
				resp, err := client.Do(req.WithContext(ctx))
				took := time.Since(began)
				if ctx.Err() != nil {
					return // cut off by the end of the run: not an answer
				}
				mu.Lock()
				switch {
				case err != nil:
					res.other++
					res.otherSample = "; e.g. " + err.Error()
				case resp.StatusCode/100 == 2:
					res.admitted = append(res.admitted, took)
				case resp.StatusCode == http.StatusServiceUnavailable:
					res.refused = append(res.refused, took)
					if resp.Header.Get("Retry-After") == "" {
						res.noRetryAfter++
					}
				default:
					res.other++
					res.otherSample = fmt.Sprintf("; e.g. status %d", resp.StatusCode)
				}
				mu.Unlock()
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(res.admitted)
	slices.Sort(res.refused)
	return res
}

// overloadScenario is login with a request for every turn.
func overloadScenario(base string, sd seedData) scenario {
	sc := newScenario("login", base, sd)
	sc.name, sc.label = "login-overload", "POST /v1/auth/login, overload"
	sc.request = func(i int) (*http.Request, error) {
		body := fmt.Sprintf(`{"email":%q,"password":%q}`, sd.emails[i%len(sd.emails)], seedPassword)
		return jsonRequest(base+"/v1/auth/login", body)
	}
	return sc
}

// overloadVerdict checks the targets: admitted p99 under 1 s, and
// every refusal a 503 with Retry-After within 2 s.
func overloadVerdict(r overloadResult) string {
	var miss []string
	if len(r.admitted) > 0 && r.admitted[int(float64(len(r.admitted))*0.99)] >= time.Second {
		miss = append(miss, "admitted p99 ≥ 1 s")
	}
	if len(r.refused) > 0 && r.refused[len(r.refused)-1] > 2*time.Second {
		miss = append(miss, "a refusal took over 2 s")
	}
	if r.noRetryAfter > 0 {
		miss = append(miss, "503 without Retry-After")
	}
	if r.other > 0 {
		miss = append(miss, "answers other than 2xx and 503")
	}
	if len(miss) == 0 {
		return "met"
	}
	return "missed: " + strings.Join(miss, ", ")
}
