package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/internal/devpg"
	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/internal/testdb"
	"github.com/nextsecure/nextsecure/service"
	"github.com/nextsecure/nextsecure/service/httpapi"
)

func TestServeFreshDatabase(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewEmptyURL(t)
	s := startServe(t, map[string]string{"DATABASE_URL": dsn})

	if got, want := schemaVersion(t, dsn), migrate.Latest(); got != want {
		t.Errorf("schema version after serve = %d, want %d", got, want)
	}

	r := do(t, "GET", s.URL+"/healthz", nil)
	if r.Status != http.StatusOK || !jsonEqual(r.Body, `{"status":"ok"}`) {
		t.Errorf("GET /healthz = %d %s, want 200 {\"status\":\"ok\"}", r.Status, r.Body)
	}
	if r := do(t, "GET", s.URL+"/readyz", nil); r.Status != http.StatusOK {
		t.Errorf("GET /readyz = %d %s, want 200", r.Status, r.Body)
	}

	r = do(t, "GET", s.URL+"/no/such/route", nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("GET /no/such/route = %d, want 404", r.Status)
	}
	if code := problemCode(t, r); code != "not_found" {
		t.Errorf("unknown route code = %q, want not_found", code)
	}
	for name, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "frame-ancestors 'none'",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
	if got := r.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security = %q on an http BASE_URL, want none", got)
	}

	r = do(t, "GET", s.URL+"/openapi.yaml", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/yaml" ||
		!bytes.HasPrefix(r.Body, []byte("openapi: 3.1")) {
		t.Errorf("GET /openapi.yaml = %d %q %.40q, want 200 application/yaml \"openapi: 3.1...\"",
			r.Status, r.Header.Get("Content-Type"), r.Body)
	}

	r = do(t, "GET", s.URL+"/metrics", nil)
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte("nextsecure_http_requests_total")) {
		t.Errorf("GET /metrics = %d, want 200 with nextsecure_http_requests_total in:\n%.2000s", r.Status, r.Body)
	}
}

// serve has the browser pages unless PAGES=off.
func TestServePagesSwitch(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	on := startServe(t, map[string]string{"DATABASE_URL": dsn})
	r := do(t, "GET", on.URL+"/login", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /login by default = %d %q, want 200 text/html", r.Status, r.Header.Get("Content-Type"))
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("page CSP = %q", csp)
	}
	off := startServe(t, map[string]string{"DATABASE_URL": dsn, "PAGES": "off"})
	for _, path := range []string{"/", "/login", "/account", "/admin"} {
		r := do(t, "GET", off.URL+path, nil)
		if r.Status != http.StatusNotFound || problemCode(t, r) != "not_found" {
			t.Errorf("GET %s with PAGES=off = %d, want 404 not_found", path, r.Status)
		}
	}
}

func TestServeHTTPSBaseURLSendsHSTS(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"DATABASE_URL": testdb.NewURL(t)},
		"--base-url", "https://auth.example.test")
	r := do(t, "GET", s.URL+"/healthz", nil)
	if got := r.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q with an https BASE_URL, want max-age=...", got)
	}
}

// Two instances starting together on one empty database both come up: the
// migration lock makes one wait for the other.
func TestServeTwoInstancesMigrateOnce(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewEmptyURL(t)
	env := map[string]string{"DATABASE_URL": dsn}
	servers := []*server{launchServe(t, env), launchServe(t, env)}
	for _, s := range servers {
		s.waitHealthy(t)
		if r := do(t, "GET", s.URL+"/readyz", nil); r.Status != http.StatusOK {
			t.Errorf("GET %s/readyz = %d %s, want 200", s.URL, r.Status, r.Body)
		}
	}
	if got, want := schemaVersion(t, dsn), migrate.Latest(); got != want {
		t.Errorf("schema version = %d, want %d", got, want)
	}
	conn := connect(t, dsn)
	var applied, distinct int64
	err := conn.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied").
		Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if applied != migrate.Latest() || distinct != applied {
		t.Errorf("goose_db_version holds %d applications of %d versions, want each of %d once",
			applied, distinct, migrate.Latest())
	}
}

// Cancelling serve's context, as SIGINT and SIGTERM do, lets requests in
// flight finish, and run returns nil.
func TestServeShutdownFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	s := startServe(t, map[string]string{"DATABASE_URL": dsn})
	inFlight := startRegistrations(t, s.URL, dsn, 3)

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	waitShuttingDown(t, s.URL)
	inFlight.finish(t)
	if err := <-stopped; err != nil {
		t.Errorf("serve: %v; log:\n%s", err, s.logs)
	}
}

// The built binary drains on SIGTERM and exits with status 0.
func TestBinarySIGTERM(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dsn := testdb.NewURL(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"DATABASE_URL=" + dsn, "AUTH_SECRET=" + testAuthSecret, "PATH=" + os.Getenv("PATH")}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // in case the test failed before it exited
		<-exited
	})

	var url string
	waitFor(t, time.Minute, "the binary to log its address", func() bool {
		url = listenAddr(logs.String())
		return url != ""
	})
	waitHealthy(t, url)
	inFlight := startRegistrations(t, url, dsn, 3)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitShuttingDown(t, url)
	inFlight.finish(t)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("after SIGTERM the binary exited with %v, want status 0; log:\n%s", waitErr, logs)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the binary did not exit within a minute of SIGTERM; log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("log lacks the stopped line:\n%s", logs)
	}
}

// The binary's failures are one line on standard error and status 1; help
// and version exit 0.
func TestBinaryExitStatus(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	const noURL = "nextsecure: DATABASE_URL is not set (or use --database-url)\n"
	for _, tt := range []struct {
		args        []string
		env         []string
		wantStatus  int
		checkStderr bool
		wantStderr  string
	}{
		{args: []string{"migrate", "up"}, wantStatus: 1, checkStderr: true, wantStderr: noURL},
		{args: []string{"serve"}, wantStatus: 1, checkStderr: true, wantStderr: noURL},
		{args: []string{"serve"}, env: []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}, wantStatus: 1, checkStderr: true,
			wantStderr: "nextsecure: AUTH_SECRET is not set: `nextsecure secret` prints a new one to put in the environment or .env\n"},
		{args: []string{"serve"}, env: []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none", "AUTH_SECRET=short"}, wantStatus: 1, checkStderr: true,
			wantStderr: "nextsecure: AUTH_SECRET: 5 bytes, want at least 32 (`nextsecure secret` prints a new one)\n"},
		{args: []string{"secret"}, wantStatus: 0, checkStderr: true, wantStderr: ""},
		{args: []string{"users", "set-role", "--email", "a@example.com", "--role", "user"}, wantStatus: 1, checkStderr: true, wantStderr: noURL},
		{args: []string{"version"}, wantStatus: 0, checkStderr: true, wantStderr: ""},
		{args: []string{"serve", "--help"}, wantStatus: 0},
		{args: []string{"users", "create", "--help"}, wantStatus: 0},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Dir = t.TempDir()
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			status := 0
			if ee, ok := err.(*exec.ExitError); ok {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Errorf("exit status = %d, want %d; stderr:\n%s", status, tt.wantStatus, &stderr)
			}
			if got := stderr.String(); tt.checkStderr && got != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", got, tt.wantStderr)
			}
		})
	}
}

// SetDraining, which serve calls as shutdown begins, turns /readyz into a
// 503 problem with Retry-After while everything else still answers.
func TestDrainingReadyz(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), testdb.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logger := slog.New(slog.DiscardHandler)
	h := httpapi.New(service.New(pool, service.DefaultConfig(), time.Now, logger),
		httpapi.Config{BaseURL: "http://localhost:8080", SchemaVersion: migrate.Latest()}, logger)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)

	if r := do(t, "GET", ts.URL+"/readyz", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /readyz before draining = %d %s, want 200", r.Status, r.Body)
	}
	h.SetDraining()
	r := do(t, "GET", ts.URL+"/readyz", nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz while draining = %d %s, want 503", r.Status, r.Body)
	}
	if code := problemCode(t, r); code != "unavailable" {
		t.Errorf("draining /readyz code = %q, want unavailable", code)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("draining /readyz has no Retry-After")
	}
	if r := do(t, "GET", ts.URL+"/healthz", nil); r.Status != http.StatusOK {
		t.Errorf("GET /healthz while draining = %d, want 200", r.Status)
	}
}

// The database stopped and started again under a running server: requests
// that need it answer 503 "unavailable" with Retry-After (they never hang),
// /healthz stays 200, /readyz is 503, and the server recovers by itself.
func TestServeDatabaseOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A cluster of this test's own: the shared one serves other tests.
	c := privateCluster(t)
	createDatabase(t, c.URL("postgres"), "nextsecure")
	dsn := c.URL("nextsecure")
	s := startServe(t, map[string]string{"DATABASE_URL": dsn})

	var stdout bytes.Buffer
	err := run(ctx, []string{"users", "create", "--email", "ada@example.com", "--name", "Ada"},
		mapEnv(map[string]string{"DATABASE_URL": dsn}), strings.NewReader("correct horse battery staple\n"), &stdout, io.Discard)
	if err != nil {
		t.Fatalf("users create: %v", err)
	}
	r := do(t, "POST", s.URL+"/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery staple"})
	if r.Status != http.StatusOK {
		t.Fatalf("login = %d %s, want 200", r.Status, r.Body)
	}
	var login struct {
		Session struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	if err := json.Unmarshal(r.Body, &login); err != nil || login.Session.Token == "" {
		t.Fatalf("login body %s: no session token (%v)", r.Body, err)
	}
	auth := []string{"Authorization", "Bearer " + login.Session.Token}
	me := func() response { return do(t, "GET", s.URL+"/v1/me", nil, auth...) }
	resend := func() response {
		return do(t, "POST", s.URL+"/v1/auth/resend-verification", map[string]string{"email": "nobody@example.com"})
	}
	if r := me(); r.Status != http.StatusOK {
		t.Fatalf("GET /v1/me before the outage = %d %s, want 200", r.Status, r.Body)
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		do   func() response
	}{
		{"GET /v1/me", me},
		{"POST /v1/auth/resend-verification", resend},
		{"GET /readyz", func() response { return do(t, "GET", s.URL+"/readyz", nil) }},
	} {
		r := tt.do()
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("%s with the database down = %d %s, want 503", tt.name, r.Status, r.Body)
			continue
		}
		if code := problemCode(t, r); code != "unavailable" {
			t.Errorf("%s with the database down: code %q, want unavailable", tt.name, code)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the database down: no Retry-After", tt.name)
		}
	}
	if r := do(t, "GET", s.URL+"/healthz", nil); r.Status != http.StatusOK {
		t.Errorf("GET /healthz with the database down = %d, want 200", r.Status)
	}

	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "/readyz to answer 200 after the database came back", func() bool {
		return do(t, "GET", s.URL+"/readyz", nil).Status == http.StatusOK
	})
	if r := me(); r.Status != http.StatusOK {
		t.Errorf("GET /v1/me after the outage = %d %s, want 200", r.Status, r.Body)
	}
	if r := resend(); r.Status != http.StatusAccepted {
		t.Errorf("POST /v1/auth/resend-verification after the outage = %d %s, want 202", r.Status, r.Body)
	}
}

// registrations are register requests held in flight: the server has
// counted each against its rate limit and waits for the rest of its body.
type registrations struct {
	bodies  []*io.PipeWriter
	results chan error
}

// startRegistrations sends n POST /v1/auth/register requests whose bodies
// stop halfway, and returns once the server is inside every one of them
// (each has hit the per-address limit in the database at dsn).
func startRegistrations(tb testing.TB, url, dsn string, n int) *registrations {
	tb.Helper()
	rs := &registrations{results: make(chan error, n)}
	for i := range n {
		pr, pw := io.Pipe()
		rs.bodies = append(rs.bodies, pw)
		req, err := http.NewRequest("POST", url+"/v1/auth/register", pr)
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				rs.results <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusAccepted || !jsonEqual(b, `{"status":"verification_email_sent"}`) {
				err = fmt.Errorf("register %d = %d %s, want 202 verification_email_sent", i, resp.StatusCode, b)
			}
			rs.results <- err
		}()
		go fmt.Fprintf(pw, `{"name": "User %d", `, i)
	}
	conn := connect(tb, dsn)
	waitFor(tb, time.Minute, fmt.Sprintf("%d registrations to reach the server", n), func() bool {
		var count int
		err := conn.QueryRow(context.Background(),
			"SELECT COALESCE(sum(count), 0) FROM rate_limits WHERE key LIKE 'ip:register:%'").Scan(&count)
		return err == nil && count >= n
	})
	return rs
}

// waitShuttingDown waits for the server at url to close its listener, which
// it does as shutdown begins; requests in flight are already past it.
func waitShuttingDown(tb testing.TB, url string) {
	tb.Helper()
	waitFor(tb, time.Minute, "the listener to close", func() bool {
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
}

// finish sends the rest of each body and checks that every request succeeded.
func (rs *registrations) finish(tb testing.TB) {
	tb.Helper()
	for i, pw := range rs.bodies {
		fmt.Fprintf(pw, `"email": "user%d@example.com", "password": "correct horse battery staple"}`, i)
		pw.Close()
	}
	for range rs.bodies {
		if err := <-rs.results; err != nil {
			tb.Errorf("request in flight during shutdown: %v", err)
		}
	}
}

// buildBinary builds the command into a temporary folder.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "nextsecure")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// privateCluster starts a PostgreSQL cluster for this test alone, stopped
// and removed when the test ends.
func privateCluster(tb testing.TB) *devpg.Cluster {
	tb.Helper()
	c, err := devpg.Locate(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tb.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			tb.Errorf("stop private cluster: %v", err)
		}
		// As root the data folder lives outside the test's temporary one.
		os.RemoveAll(c.DataDir)
		os.RemoveAll(c.SocketDir)
		os.Remove(c.SocketDir + ".lock")
	})
	if err := c.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	return c
}

func createDatabase(tb testing.TB, adminURL, name string) {
	tb.Helper()
	conn := connect(tb, adminURL)
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatal(err)
	}
}

// connect opens a connection closed when the test ends.
func connect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// schemaVersion is the database's latest applied migration.
func schemaVersion(tb testing.TB, dsn string) int64 {
	tb.Helper()
	var v int64
	err := connect(tb, dsn).QueryRow(context.Background(),
		"SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&v)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// jsonEqual reports whether b holds the same JSON value as want.
func jsonEqual(b []byte, want string) bool {
	var got, exp any
	if json.Unmarshal(b, &got) != nil || json.Unmarshal([]byte(want), &exp) != nil {
		return false
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	return bytes.Equal(gb, eb)
}
