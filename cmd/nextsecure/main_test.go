package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

// mapEnv is a getenv over a fixed set of variables, so tests never see the
// process environment.
func mapEnv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// syncBuffer collects a command's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// listenAddr returns the address of the "listening" line that serve logs
// (as JSON when its standard error is not a terminal), or "".
func listenAddr(logs string) string {
	for line := range strings.Lines(logs) {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
	}
	return ""
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client is the tests' HTTP client. Its timeout is only a bound against a
// hanging server, never a measurement.
var client = &http.Client{Timeout: 15 * time.Second}

// server is a "nextsecure serve" running in the test's process through run.
type server struct {
	URL    string // http://127.0.0.1:port, once waitListening returned
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServe runs "nextsecure serve" with the given environment and extra
// arguments, and returns once /healthz answers 200.
func startServe(tb testing.TB, env map[string]string, args ...string) *server {
	tb.Helper()
	s := launchServe(tb, env, args...)
	s.waitHealthy(tb)
	return s
}

// testAuthSecret is the AUTH_SECRET of the servers tests start, unless the
// test sets its own.
const testAuthSecret = "test-secret-test-secret-test-secret"

// launchServe starts "nextsecure serve" on port 0 of 127.0.0.1 without
// waiting for it. The server is stopped, and must have exited cleanly, when
// the test ends.
func launchServe(tb testing.TB, env map[string]string, args ...string) *server {
	tb.Helper()
	if _, ok := env["AUTH_SECRET"]; !ok {
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		env["AUTH_SECRET"] = testAuthSecret
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
	go func() {
		s.done <- run(ctx, args, mapEnv(env), strings.NewReader(""), io.Discard, s.logs)
	}()
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("serve: %v; log:\n%s", err, s.logs)
		}
	})
	return s
}

// waitHealthy waits for the server to log its address (the port is
// chosen by the system) and for its /healthz to answer 200.
func (s *server) waitHealthy(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for s.URL == "" {
		select {
		case err := <-s.done:
			s.done <- err
			tb.Fatalf("serve returned %v before listening; log:\n%s", err, s.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve did not log its address; log:\n%s", s.logs)
		}
		s.URL = listenAddr(s.logs.String())
	}
	waitHealthy(tb, s.URL)
}

// waitHealthy polls url's /healthz until it answers 200.
func waitHealthy(tb testing.TB, url string) {
	tb.Helper()
	waitFor(tb, time.Minute, url+"/healthz to answer 200", func() bool {
		resp, err := client.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop cancels serve's context, as SIGINT or SIGTERM does, and returns what
// run returned. Calling it again returns the same result.
func (s *server) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			return fmt.Errorf("run returned %w, want nil", err)
		}
		return nil
	case <-time.After(time.Minute):
		return errors.New("run did not return within a minute of its context ending")
	}
}

// response is an HTTP response read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request and reads the whole response. body, when not nil, is
// sent as JSON.
func do(tb testing.TB, method, url string, body any, header ...string) response {
	tb.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// problemCode returns the code of a problem+json response, failing the test
// when the response is not one.
func problemCode(tb testing.TB, r response) string {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, r.Body)
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		tb.Fatalf("problem body %s: %v", r.Body, err)
	}
	if p.Status != r.Status {
		tb.Errorf("problem status = %d, want the response's %d", p.Status, r.Status)
	}
	return p.Code
}

func TestRunCommands(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
		wantOut string // a substring of standard output
	}{
		{name: "version", args: []string{"version"}, wantOut: "nextsecure "},
		{name: "--version", args: []string{"--version"}, wantOut: "nextsecure "},
		{name: "help", args: []string{"--help"}, wantOut: "Usage:"},
		{name: "no command", args: nil, wantErr: "missing command"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{name: "serve without DATABASE_URL", args: []string{"serve"}, wantErr: "DATABASE_URL is not set"},
		{name: "migrate without DATABASE_URL", args: []string{"migrate", "up"}, wantErr: "DATABASE_URL is not set"},
		{name: "users without DATABASE_URL", args: []string{"users", "set-role", "--email", "a@example.com", "--role", "user"}, wantErr: "DATABASE_URL is not set"},
		{name: "migrate without verb", args: []string{"migrate"}, wantErr: "want up, down or status"},
		{name: "migrate bad verb", args: []string{"migrate", "sideways"}, env: map[string]string{"DATABASE_URL": dsn}, wantErr: `unknown action "sideways"`},
		{name: "migrate bad verb without DATABASE_URL", args: []string{"migrate", "sideways"}, wantErr: `unknown action "sideways"`},
		{name: "users without verb", args: []string{"users"}, wantErr: "want create or set-role"},
		{name: "serve bad flag", args: []string{"serve", "--no-such-flag"}, wantErr: "flag provided but not defined"},
		{name: "serve bad RATE_LIMITS", args: []string{"serve"}, env: map[string]string{"RATE_LIMITS": "maybe"}, wantErr: "RATE_LIMITS"},
		{name: "serve bad SESSION_TTL", args: []string{"serve"}, env: map[string]string{"SESSION_TTL": "-1h"}, wantErr: "SESSION_TTL"},
		{name: "serve bad DATABASE_URL", args: []string{"serve", "--database-url", "postgres://%zz"}, wantErr: "DATABASE_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, mapEnv(tt.env), strings.NewReader(""), &stdout, &stderr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("run %q = %v, want nil; stderr:\n%s", tt.args, err, &stderr)
				}
				if !strings.Contains(stdout.String(), tt.wantOut) {
					t.Errorf("stdout = %q, want it to contain %q", &stdout, tt.wantOut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run %q = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines, want one", err)
			}
			if got := exitCode(err); got != 1 {
				t.Errorf("exitCode = %d, want 1", got)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"},
		{"-h"},
		{"help"},
		{"serve", "--help"},
		{"serve", "-h"},
		{"migrate", "--help"},
		{"migrate", "up", "--help"},
		{"users", "--help"},
		{"users", "create", "--help"},
		{"users", "set-role", "--help"},
		{"secret", "--help"},
		{"secrets", "--help"},
		{"secrets", "reencrypt", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, mapEnv(nil), strings.NewReader(""), &stdout, &stderr)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("run %q = %v, want nil or flag.ErrHelp", args, err)
			}
			if got := exitCode(err); got != 0 {
				t.Errorf("exitCode(%v) = %d, want 0", err, got)
			}
			if stdout.Len()+stderr.Len() == 0 {
				t.Errorf("run %q printed no help", args)
			}
		})
	}
}
