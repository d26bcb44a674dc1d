// Command loadbench measures nextsecure under load on this machine, in one
// run: it recreates a database of its own on the project's throwaway
// PostgreSQL cluster, migrates and seeds it, starts the server binary as a
// separate process (a fresh one for every cell), drives it with wrk, run as
// a process of its own (closed model: a fixed number of connections, each
// sending its next request as soon as the previous one answered), and
// prints throughput, latency, errors, peak RSS and CPU use per scenario,
// beside the password-hashing limit and a bare net/http+pgx baseline for
// GET /v1/me ("loadbench bare-serve", which the run starts as a process of
// its own).
//
//	go build -o bin/nextsecure ./cmd/nextsecure
//	go run ./internal/cmd/loadbench -server bin/nextsecure [-duration 10s] [-clients 16,64]
//
// -users N sets the database's size (default 3,000; "make bench
// BENCH_FLAGS=-users 1000000" for the scale run): N users with two sessions
// and ten audit events each, 1% as many pending registrations, and, for the
// purge scenario, 500,000 sessions to purge, all seeded with COPY; the
// scenarios rotate over -sessions users spread evenly over all of them.
//
// wrk must be installed (Debian: apt-get install wrk). "make bench" builds
// both binaries and runs the tool, installing wrk first when it runs as root
// on Debian. The cluster is left running (like make run and make test do),
// so the next run starts fast; make devdb-stop stops it. The bench database
// is dropped and recreated at the start of every run and left behind
// afterwards for inspection.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nextsecure/nextsecure/internal/devpg"
)

type options struct {
	server    string
	dbName    string
	users     int
	sessions  int
	seed      seedSpec
	duration  time.Duration
	clients   []int
	scenarios []string
	hashTime  time.Duration
	logPath   string
	bare      bool
	quietWait time.Duration
	serverEnv []string
	stopDB    bool
	wrk       string
	wrkThread int
	scriptDir string
	warmup    time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "bare-serve" {
		if err := bareServe(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench bare-serve:", err)
			os.Exit(1)
		}
		return
	}
	code, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string) (int, error) {
	var o options
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.StringVar(&o.server, "server", "bin/nextsecure", "the nextsecure binary to start")
	fs.StringVar(&o.dbName, "db", "nextsecure_bench", "database to drop, recreate and seed on the throwaway cluster")
	fs.IntVar(&o.users, "users", 3000, "seeded users (active, verified, one shared password; e.g. 1000000 for the scale run)")
	fs.IntVar(&o.sessions, "sessions", 3000, "seeded users, spread evenly over all of them, whose emails, ids and session tokens the scenarios rotate over")
	fs.IntVar(&o.seed.sessions, "user-sessions", 2, "live sessions seeded per user")
	fs.IntVar(&o.seed.events, "events", 10, "audit events seeded per user")
	fs.IntVar(&o.seed.prereg, "prereg", 1, "pending registrations seeded, in percent of the users")
	fs.IntVar(&o.seed.expired, "expired", 500000, "sessions seeded for the purge scenario to purge (0 with -scenarios without purge)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "duration of each scenario at each client count")
	clients := fs.String("clients", "16,64", "comma-separated numbers of concurrent clients")
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run")
	fs.DurationVar(&o.hashTime, "hash-time", 3*time.Second, "how long to measure the password-hashing limit")
	fs.StringVar(&o.logPath, "log", "bin/loadbench-server.log", "file for the server's standard output and error")
	fs.BoolVar(&o.bare, "bare", true, "also measure the bare GET /v1/me and GET /healthz baselines")
	fs.DurationVar(&o.quietWait, "quiet-wait", time.Minute, "in all, how long to wait for other work on the machine to calm down before cells (0: never wait)")
	extraEnv := fs.String("server-env", "", "comma-separated NAME=VALUE settings for the server process only, for experiments (e.g. GOGC=50)")
	fs.BoolVar(&o.stopDB, "stop-db", false, "stop the throwaway cluster at the end (default: leave it running for the next run)")
	fs.StringVar(&o.wrk, "wrk", "wrk", "the wrk binary (the load generator)")
	fs.IntVar(&o.wrkThread, "wrk-threads", 1, "wrk threads (-t); never more than the clients")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load on each fresh server before its cell (0: none)")
	fs.StringVar(&o.scriptDir, "scripts", "", "keep the generated wrk Lua scripts in this directory, to rerun wrk by hand (default: a temporary directory, removed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return 2, fmt.Errorf("-clients: bad number %q", s)
		}
		o.clients = append(o.clients, n)
	}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allScenarios, s) && !slices.Contains(extraScenarios, s) {
			return 2, fmt.Errorf("-scenarios: unknown %q (want some of %s)", s,
				strings.Join(append(slices.Clone(allScenarios), extraScenarios...), ","))
		}
		o.scenarios = append(o.scenarios, s)
	}
	for _, kv := range strings.Split(*extraEnv, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		if !strings.Contains(kv, "=") {
			return 2, fmt.Errorf("-server-env: want NAME=VALUE, got %q", kv)
		}
		o.serverEnv = append(o.serverEnv, kv)
	}
	if o.wrkThread < 1 {
		return 2, fmt.Errorf("-wrk-threads: want at least 1, got %d", o.wrkThread)
	}
	wrkPath, err := lookWrk(o.wrk)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, nil
	}
	scriptDir := o.scriptDir
	if scriptDir == "" {
		if scriptDir, err = os.MkdirTemp("", "loadbench-wrk-"); err != nil {
			return 1, err
		}
		defer os.RemoveAll(scriptDir)
	} else if err := os.MkdirAll(scriptDir, 0o755); err != nil {
		return 1, err
	}
	wc := wrkConfig{path: wrkPath, threads: o.wrkThread, dir: scriptDir, warmup: o.warmup}
	if o.sessions > o.users {
		o.sessions = o.users
	}
	bin, err := filepath.Abs(o.server)
	if err != nil {
		return 1, err
	}
	o.server = bin

	started := time.Now()
	fmt.Printf("loadbench: %s\n", machineLine())
	fmt.Printf("loadbench: load generator %s (%s), %d thread(s)\n", wrkPath, wrkVersion(wrkPath), o.wrkThread)
	for _, name := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"} {
		if v := os.Getenv(name); v != "" {
			fmt.Printf("loadbench: %s=%s is set, and passed on to the server\n", name, v)
		}
	}
	if len(o.serverEnv) > 0 {
		fmt.Printf("loadbench: server started with %s\n", strings.Join(o.serverEnv, " "))
	}
	fmt.Printf("NOTE: server, load generator and PostgreSQL all share these %d CPUs; every figure below is\n"+
		"      bounded by that sharing (the CPU columns show who used them).\n\n", runtime.NumCPU())

	// 1. The database.
	cluster, err := devpg.Locate(devpg.ProjectDir())
	if err != nil {
		return 1, err
	}
	step("starting the throwaway PostgreSQL cluster (%s)", cluster.DataDir)
	if err := cluster.Start(ctx); err != nil {
		return 1, err
	}
	if o.stopDB {
		defer func() {
			step("stopping the throwaway PostgreSQL cluster")
			if err := cluster.Stop(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintln(os.Stderr, "loadbench: stopping the cluster:", err)
			}
		}()
	}
	dsn := cluster.URL(o.dbName)
	step("recreating database %q", o.dbName)
	if err := recreateDatabase(ctx, cluster.URL("postgres"), o.dbName); err != nil {
		return 1, err
	}
	step("%s migrate up", filepath.Base(o.server))
	if err := migrateUp(ctx, o.server, dsn); err != nil {
		return 1, err
	}
	seedStart := time.Now()
	o.seed.users, o.seed.sample = o.users, o.sessions
	if !slices.Contains(o.scenarios, "purge") {
		o.seed.expired = 0
	}
	step("seeding with COPY: %d users, %d sessions each, %d audit events each, %d%% pending registrations, %d sessions to purge",
		o.users, o.seed.sessions, o.seed.events, o.seed.prereg, o.seed.expired)
	sd, err := seed(ctx, dsn, o.seed)
	if err != nil {
		return 1, fmt.Errorf("seeding: %w", err)
	}
	seedTime := time.Since(seedStart)
	step("seeded %d users (one shared argon2id hash) in %s; the scenarios rotate over %d of them",
		o.users, seedTime.Round(time.Millisecond), len(sd.tokens))

	cp := cpuProbe{postmaster: postmasterPID(cluster.DataDir), dbName: o.dbName}
	bg := backgroundLoad(cp, time.Second)
	step("background load before the run: %.2f of %d cores busy", bg, runtime.NumCPU())
	if bg > 0.2 {
		step("WARNING: other work is using the CPUs; the figures will be low and noisy (see the CPU 'other' column)")
	}

	// 2. The server: a fresh process for every cell, so that each cell's
	// peak RSS is its own and not what an earlier cell left in the heap.
	if err := os.MkdirAll(filepath.Dir(o.logPath), 0o755); err != nil {
		return 1, err
	}
	if err := os.WriteFile(o.logPath, nil, 0o644); err != nil {
		return 1, err
	}
	step("server log (every cell's server appends to it): %s", o.logPath)
	var current *server
	defer func() {
		if current != nil {
			current.stop()
		}
	}()
	start := func() (*server, error) {
		srv, err := startServer(ctx, o.server, dsn, o.logPath, o.serverEnv)
		if err != nil {
			return nil, err
		}
		current, cp.server = srv, srv.pid()
		return srv, nil
	}
	stop := func() {
		if err := current.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench: stopping the server:", err)
		}
		current, cp.server = nil, 0
	}

	// 3. The scenarios. The hashing limit is measured (server idle) right
	// before and right after each cell that hashes, and the cell's ratio
	// uses the mean of the two, so that each ratio compares figures taken
	// within seconds of each other: this machine's speed drifts by 10% or
	// more over minutes.
	var cells []cell
	var hashes []hashSample
	measureHashes := func(when, scenario string) hashSample {
		waitQuiet(ctx, cp, &o.quietWait)
		step("hashing limit %s %s: password.Hash on %d goroutines for %s", when, scenario, runtime.GOMAXPROCS(0), o.hashTime)
		h := hashLimit(o.hashTime)
		h.when, h.scenario = when, scenario
		hashes = append(hashes, h)
		step("hashing limit: %.1f hashes/s (%.0f page faults per hash); x/crypto argon2.IDKey: %.1f hashes/s", h.rate, h.faults, h.upstream)
		return h
	}
	// The bare baselines (floors) for GET /v1/me and GET /healthz run right
	// after the server's cell at the most clients, for the same reason.
	var bares []cell
	var overloads []string // the overload scenario's lines
scenarios:
	for _, name := range o.scenarios {
		hashing := name == "login" || name == "register"
		var limit hashSample // the last measurement of the hashing limit
		for i, n := range o.clients {
			if ctx.Err() != nil {
				return 1, ctx.Err()
			}
			if name == "purge" && i > 0 {
				step("putting back the %d sessions to purge", sd.expired)
				if err := reseedExpired(ctx, sd); err != nil {
					return 1, fmt.Errorf("purge backlog: %w", err)
				}
			}
			if name == "me" || name == "purge" {
				if err := respreadLastUse(ctx, sd); err != nil {
					return 1, fmt.Errorf("sessions' last use: %w", err)
				}
			}
			srv, err := start()
			if err != nil {
				return 1, err
			}
			sc := newScenario(name, srv.base, sd)
			if i == 0 {
				if why := probe(ctx, sc); why != "" {
					stop()
					step("SKIP %s: %s", sc.label, why)
					for _, n := range o.clients {
						cells = append(cells, cell{scenario: sc.label, clients: n, skipped: why})
					}
					continue scenarios
				}
				if hashing {
					limit = measureHashes("before", fmt.Sprintf("%s @%d", sc.label, n))
				}
			}
			if sc.request != nil {
				waitQuiet(ctx, cp, &o.quietWait)
				step("%s at %d clients of this tool's own for %s (server pid %d on %s)", sc.label, n, o.duration, srv.pid(), srv.base)
				r := overload(ctx, sc, n, o.duration)
				stop()
				overloads = append(overloads, fmt.Sprintf("%s: %s; target %s", sc.label, r, overloadVerdict(r)))
				step("%s", overloads[len(overloads)-1])
				continue
			}
			waitQuiet(ctx, cp, &o.quietWait)
			step("%s at %d clients for %s after %s of warm-up (server pid %d on %s)", sc.label, n, o.duration, o.warmup, srv.pid(), srv.base)
			c, err := attack(ctx, sc, n, o.duration, cp, wc)
			stop()
			if err != nil {
				return 1, fmt.Errorf("%s at %d clients: %w", sc.label, n, err)
			}
			if hashing {
				after := measureHashes("after", fmt.Sprintf("%s @%d", sc.label, n))
				c.limit = &hashSample{rate: (limit.rate + after.rate) / 2, upstream: (limit.upstream + after.upstream) / 2}
				limit = after
			}
			if o.bare && (name == "me" || name == "healthz") && n == slices.Max(o.clients) {
				waitQuiet(ctx, cp, &o.quietWait)
				step("bare baseline for %s (net/http, a process of its own) at %d clients for %s", sc.label, n, o.duration)
				b, err := runBare(ctx, name, dsn, sd, n, o.duration, cp, wc)
				if err != nil {
					return 1, fmt.Errorf("bare baseline %s: %w", name, err)
				}
				bares = append(bares, b)
				c.floor = &b
			}
			if c.note != "" {
				step("%s @%d: %s", sc.label, n, c.note)
			}
			cells = append(cells, c)
		}
	}
	if len(hashes) == 0 {
		measureHashes("at", "the end")
	}

	fmt.Println()
	fmt.Printf("background load before the run: %.2f cores\n", bg)
	fmt.Printf("database: %d users, %d sessions each, %d audit events each, %d%% pending registrations; seeded with COPY in %s\n",
		o.users, o.seed.sessions, o.seed.events, o.seed.prereg, seedTime.Round(time.Millisecond))
	invalid := report(os.Stdout, cells, bares, hashes, o)
	for _, line := range overloads {
		fmt.Println(line)
	}
	fmt.Printf("\ntotal run time %s\n", time.Since(started).Round(time.Second))
	if invalid {
		return 1, nil
	}
	return 0, nil
}

func step(format string, args ...any) {
	fmt.Printf("[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// waitQuiet waits, out of the budget left, until the machine's other work
// (and any backlog of the server's, e.g. queued mail) uses under noiseCores.
func waitQuiet(ctx context.Context, cp cpuProbe, budget *time.Duration) {
	for {
		start := time.Now()
		bg := backgroundLoad(cp, 500*time.Millisecond)
		if bg <= noiseCores {
			return
		}
		*budget -= time.Since(start)
		if *budget <= 0 || ctx.Err() != nil {
			step("machine still busy (%.2f cores used by other work); going on", bg)
			return
		}
		step("waiting for the machine to calm down (%.2f cores used by other work; %s left to wait)",
			bg, budget.Round(time.Second))
		time.Sleep(2 * time.Second)
		*budget -= 2 * time.Second
	}
}
