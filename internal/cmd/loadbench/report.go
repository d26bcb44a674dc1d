package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the table, the error details and the ratios against the
// targets; it returns whether any cell that ran is invalid (errors dominate).
func report(out io.Writer, cells []cell, bares []cell, hashes []hashSample, o options) (invalid bool) {
	for _, h := range hashes {
		fmt.Fprintf(out, "hashing limit %s %s (%d goroutines, %s each, server idle): password.Hash %.1f hashes/s (%.0f page faults per hash); "+
			"x/crypto argon2.IDKey %.1f hashes/s\n", h.when, h.scenario, runtime.GOMAXPROCS(0), o.hashTime, h.rate, h.faults, h.upstream)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Closed model: N clients (wrk -t%d -cN), each sends its next request when the previous one answered; %s per cell,\n"+
		"after %s of the same load, unmeasured, on the cell's fresh server.\n", o.wrkThread, o.duration, o.warmup)
	fmt.Fprintf(out, "req/s counts 2xx answers only; p50/p99 cover every answer, as wrk recorded them, without its coordinated-omission\n"+
		"correction (see docs/performance.md); errors = non-2xx answers + transport errors.\n")
	fmt.Fprintf(out, "peak RSS and faults/req (minor page faults per request) are the server's (or the bare handler's).\n")
	fmt.Fprintf(out, "CPU = cores used during the cell by the server (or the bare handler) / the load generator (wrk) /\n"+
		"      PostgreSQL (bench database and cluster processes) / anything else on the machine, of %d.\n\n", runtime.NumCPU())
	all := append(slices.Clone(cells), bares...)
	noisy, corrected := false, false
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\treq/s\tp50\tp99\terrors\tpeak RSS\tfaults/req\tCPU srv/gen/pg/other\t")
	for _, c := range all {
		if c.skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\tskipped\t-\t-\t-\t-\t-\t-\t\n", c.scenario, c.clients)
			continue
		}
		rss := "-"
		if c.peakRSSKiB > 0 {
			rss = fmt.Sprintf("%.1f MiB", float64(c.peakRSSKiB)/1024)
		}
		errs := fmt.Sprint(c.errors())
		if c.invalid() {
			errs += " INVALID"
			invalid = true
		}
		mark := ""
		if c.cpu.other > noiseCores {
			mark, noisy = " !", true
		}
		p99 := ms(c.p99)
		if c.corrected {
			p99 += "*"
			corrected = true
		}
		faults := "-"
		if c.requests > 0 && c.peakRSSKiB > 0 {
			faults = fmt.Sprintf("%.1f", float64(c.faults)/float64(c.requests))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%.2f/%.2f/%.2f/%.2f%s\t\n", c.scenario, c.clients, c.rate(),
			ms(c.p50), p99, errs, rss, faults, c.cpu.server, c.cpu.gen, c.cpu.pg, c.cpu.other, mark)
	}
	tw.Flush()
	if corrected {
		fmt.Fprintln(out, "* wrk's own percentiles, with its coordinated-omission correction (the histogram was too large to read back).")
	}
	if noisy {
		fmt.Fprintf(out, "! other work used more than %.1f core during the cell: its figures are low and noisy; re-run on a quiet machine.\n", noiseCores)
	}

	var details []string
	for _, c := range all {
		if c.skipped != "" {
			details = append(details, fmt.Sprintf("  %s @%d: skipped: %s", c.scenario, c.clients, c.skipped))
			continue
		}
		for _, code := range sortedCodes(c.codes) {
			what := fmt.Sprintf("HTTP %d", code)
			switch code {
			case 0:
				what = "transport error"
			case -1:
				what = "HTTP status ≥ 400"
			}
			details = append(details, fmt.Sprintf("  %s @%d: %d × %s, e.g. %s",
				c.scenario, c.clients, c.codes[code], what, c.samples[code]))
		}
	}
	if len(details) > 0 {
		fmt.Fprintln(out, "\nerrors and skips:")
		fmt.Fprintln(out, strings.Join(details, "\n"))
	}

	top := slices.Max(o.clients)
	find := func(name string, clients int) *cell {
		for i := range cells {
			if cells[i].scenario == name && cells[i].clients == clients && cells[i].skipped == "" {
				return &cells[i]
			}
		}
		return nil
	}
	fmt.Fprintln(out, "\nratios against targets (hashing limit: password.Hash, as the server hashes, mean of the measurements just before\n"+
		"and just after the cell; in brackets, the same with x/crypto's argon2.IDKey):")
	for _, name := range []string{"POST /v1/auth/login", "POST /v1/auth/register"} {
		for _, n := range o.clients {
			c := find(name, n)
			if c == nil || c.limit == nil {
				fmt.Fprintf(out, "  %-24s @%-3d ÷ hashing limit: n/a (not measured)\n", name, n)
				continue
			}
			r := c.rate() / c.limit.rate
			fmt.Fprintf(out, "  %-24s @%-3d ÷ hashing limit: %.1f / %.1f = %.2f  (target ≥ 0.90: %s)  [%.1f / %.1f = %.2f]%s\n",
				name, n, c.rate(), c.limit.rate, r, verdict(r, 0.90, true), c.rate(), c.limit.upstream, c.rate()/c.limit.upstream, invalidNote(c))
		}
	}
	if c := find("GET /v1/me", top); c != nil {
		fmt.Fprintf(out, "  GET /v1/me @%d: %.0f req/s (target ≥ 10000: %s), p50 %s (target < 5 ms: %s)%s\n", top,
			c.rate(), verdict(c.rate(), 10000, true), ms(c.p50), verdict(float64(c.p50)/1e6, 5, false), invalidNote(c))
		if b := c.floor; b != nil && b.rate() > 0 {
			fmt.Fprintf(out, "  GET /v1/me @%d vs bare handler running the same query: %.0f / %.0f = %.2f of the floor (p50 %s vs %s)\n",
				top, c.rate(), b.rate(), c.rate()/b.rate(), ms(c.p50), ms(b.p50))
		}
	} else {
		fmt.Fprintf(out, "  GET /v1/me @%d: n/a (not measured)\n", top)
	}
	if c := find("GET /healthz", top); c != nil {
		fmt.Fprintf(out, "  GET /healthz @%d: %.0f req/s (target ≥ 45000: %s)%s\n", top, c.rate(),
			verdict(c.rate(), 45000, true), invalidNote(c))
		if b := c.floor; b != nil && b.rate() > 0 {
			fmt.Fprintf(out, "  GET /healthz @%d vs bare net/http handler: %.0f / %.0f = %.2f of the floor (p50 %s vs %s)\n",
				top, c.rate(), b.rate(), c.rate()/b.rate(), ms(c.p50), ms(b.p50))
		}
	} else {
		fmt.Fprintf(out, "  GET /healthz @%d: n/a (not measured)\n", top)
	}
	if c := find("POST /v1/auth/login", top); c != nil {
		mib := float64(c.peakRSSKiB) / 1024
		fmt.Fprintf(out, "  peak RSS @%d concurrent logins: %.1f MiB (target < 100 MiB: %s)%s\n", top, mib,
			verdict(mib, 100, false), invalidNote(c))
	} else {
		fmt.Fprintf(out, "  peak RSS @%d concurrent logins: n/a (login not measured)\n", top)
	}
	for _, t := range []struct {
		label  string
		target time.Duration
	}{
		{"GET /v1/admin/users?q=rare", 50 * time.Millisecond},
		{"GET /v1/admin/users?q=common", 50 * time.Millisecond},
		{"GET /v1/admin/users/{id}/events", 10 * time.Millisecond},
	} {
		for _, n := range o.clients {
			if c := find(t.label, n); c != nil {
				fmt.Fprintf(out, "  %s @%d: p50 %s (target < %s: %s)%s\n", t.label, n, ms(c.p50), ms(t.target),
					verdict(float64(c.p50), float64(t.target), false), invalidNote(c))
			}
		}
	}
	for _, n := range o.clients {
		c, base := find("GET /v1/me during purge", n), find("GET /v1/me", n)
		if c == nil {
			continue
		}
		fmt.Fprintf(out, "  GET /v1/me @%d during the purge: %s\n", n, c.note)
		if base != nil && base.p99 > 0 {
			r := float64(c.p99) / float64(base.p99)
			fmt.Fprintf(out, "  GET /v1/me @%d p99 during the purge ÷ without: %s / %s = %.2f (target < 2: %s); req/s %.0f vs %.0f%s\n",
				n, ms(c.p99), ms(base.p99), r, verdict(r, 2, false), c.rate(), base.rate(), invalidNote(c))
		}
	}
	fmt.Fprintf(out, "\nNOTE: %d CPUs shared by server, load generator and PostgreSQL; see the CPU column.\n", runtime.NumCPU())
	if invalid {
		fmt.Fprintln(out, "INVALID: errors dominate at least one cell above; its figures measure failures, not the service.")
	}
	return invalid
}

// noiseCores is how much CPU other work may take during a cell before its
// figures are flagged as unreliable.
const noiseCores = 0.2

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// verdict says whether v meets target (at least it when atLeast, else below
// it), and by how much it misses.
func verdict(v, target float64, atLeast bool) string {
	if atLeast && v >= target || !atLeast && v < target {
		return "met"
	}
	if atLeast {
		return fmt.Sprintf("MISSED by %.0f%%", (target-v)/target*100)
	}
	return fmt.Sprintf("MISSED by %.0f%%", (v-target)/target*100)
}

func invalidNote(c *cell) string {
	if c.invalid() {
		return "  [INVALID: errors dominate]"
	}
	if c.errors() > 0 {
		return fmt.Sprintf("  [%d errors]", c.errors())
	}
	return ""
}
