package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/docs"
	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/internal/smtptest"
	"github.com/nextsecure/nextsecure/internal/testdb"
	"github.com/nextsecure/nextsecure/service"
	"github.com/nextsecure/nextsecure/service/httpapi"
)

const baseURL = "http://app.example.test"

// env is one test's whole stack: a database of its own, the real service and
// router behind an httptest server, a real SMTP server and job worker (a
// River client), and a clock the test moves.
type env struct {
	t      *testing.T
	pool   *pgxpool.Pool
	svc    *service.Service
	srv    *httptest.Server
	smtp   *smtptest.Server
	worker *service.Worker
	clock  *clock
	logs   *syncBuffer
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects the server's logs so tests can check what they hold.
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

// newEnv starts a stack. configure may change the service's settings; rate
// limits are on, as in production, unless it turns them off.
func newEnv(t *testing.T, configure ...func(*service.Config)) *env {
	t.Helper()
	return startEnv(t, false, configure...)
}

// startEnv is newEnv; with pages, the server also serves the browser pages
// and its BASE_URL is its own address (a browser follows the links), which
// e.base returns.
func startEnv(t *testing.T, pages bool, configure ...func(*service.Config)) *env {
	t.Helper()
	e := &env{t: t, pool: testdb.New(t), smtp: smtptest.Start(t), logs: &syncBuffer{},
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	base := baseURL
	if pages {
		e.srv = httptest.NewServer(nil)
		t.Cleanup(e.srv.Close)
		base = e.srv.URL
	}
	cfg := service.DefaultConfig()
	cfg.BaseURL = base
	// Tests share two cores with parallel tests and the database; a
	// generous wait for a hashing slot keeps them from seeing 503 busy.
	cfg.HashWait = time.Minute
	for _, f := range configure {
		f(&cfg)
	}
	logger := slog.New(httpapi.LogHandler{Handler: slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	e.svc = service.New(e.pool, cfg, e.clock.Now, logger)
	e.worker = e.startWorker(e.svc)
	h := httpapi.New(e.svc, httpapi.Config{
		BaseURL: base, SchemaVersion: migrate.Latest(), OpenAPI: docs.OpenAPI, Pages: pages,
	}, logger)
	if pages {
		// Set before the first request: the server reads it per request.
		e.srv.Config.Handler = h
		return e
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// startWorker starts a job worker for svc that sends to the test's SMTP
// server, as another instance would; it stops when the test ends. It polls
// the queue every 20 ms and runs no periodic purge.
func (e *env) startWorker(svc *service.Service) *service.Worker {
	e.t.Helper()
	sender, err := mail.NewSMTP(e.smtp.URL(), "Next Secure <no-reply@example.test>")
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := svc.NewWorker(sender, service.WorkerConfig{
		FetchPollInterval: 20 * time.Millisecond, PollOnly: true, PurgeInterval: -1,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Stop(ctx); err != nil {
			e.t.Errorf("stop job worker: %v", err)
		}
	})
	return w
}

// deliver waits until no job is due or running (a job waiting for a retry
// or for the one-a-minute limit is not due; runDelayed makes it so) and
// returns every message the SMTP server has received so far.
func (e *env) deliver() []smtptest.Message {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var busy int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE state = 'running' OR (state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= now())`,
		).Scan(&busy); err != nil {
			e.t.Fatalf("job queue: %v", err)
		}
		if busy == 0 {
			return e.smtp.Messages()
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d jobs still due or running after 20 s", busy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runDelayed makes every job waiting for a retry or for the one-a-minute
// limit due now (as if that time had passed; move the clock too) and
// delivers.
func (e *env) runDelayed() []smtptest.Message {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable') AND scheduled_at > now()`)
	if err != nil {
		e.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := e.worker.Client().JobRetry(context.Background(), id); err != nil {
			e.t.Fatalf("retry job %d: %v", id, err)
		}
	}
	return e.deliver()
}

// mailTo returns the last message delivered to addr, failing if none was.
func (e *env) mailTo(addr string) smtptest.Message {
	e.t.Helper()
	msgs := e.deliver()
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, to := range msgs[i].To {
			if strings.EqualFold(to, addr) {
				return msgs[i]
			}
		}
	}
	e.t.Fatalf("no mail to %s among %d messages", addr, len(msgs))
	return smtptest.Message{}
}

// countMailTo counts the messages delivered to addr.
func (e *env) countMailTo(addr string) int {
	n := 0
	for _, m := range e.deliver() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				n++
			}
		}
	}
	return n
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problem is the decoded problem body.
func (r *response) problem(t *testing.T) problemBody {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %s)", ct, r.Status, r.Body)
	}
	var p problemBody
	r.JSON(t, &p)
	return p
}

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantProblem fails unless r is a problem with status and code.
func (r *response) wantProblem(t *testing.T, status int, code string) problemBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.Status, status, r.Body)
	}
	p := r.problem(t)
	if p.Code != code || p.Status != status {
		t.Fatalf("problem code %q status %d, want %q %d (body %s)", p.Code, p.Status, code, status, r.Body)
	}
	return p
}

// wantStatus fails unless r has status.
func (r *response) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.Status, status, r.Body)
	}
}

// req describes a request: body is marshalled to JSON unless it is a string
// or []byte, which are sent as they are.
type req struct {
	method, path string
	body         any
	token        string            // sent as a bearer token
	header       map[string]string // extra headers
}

// do sends a request with Content-Type application/json (when it has a body
// and the header map sets none) and checks the response against the OpenAPI
// document.
func (e *env) do(r req) *response {
	e.t.Helper()
	var body io.Reader
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if raw != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp := e.exchange(hr)
	checkContract(e.t, hr, raw, resp)
	return resp
}

// exchange sends hr and reads the whole answer. Redirects (the provider
// routes answer 302, the pages 303) are the answer under test, not
// something to follow.
func (e *env) exchange(hr *http.Request) *response {
	e.t.Helper()
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: got}
}

var (
	contractOnce   sync.Once
	contractRouter routers.Router
	contractErr    error
)

// checkContract validates a response against docs/openapi.yaml: its status
// must be documented for the route, and its headers and body must match.
// Requests to routes the document does not have must get a 404 or 405 problem.
func checkContract(t *testing.T, hr *http.Request, reqBody []byte, r *response) {
	t.Helper()
	contractOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(docs.OpenAPI)
		if err != nil {
			contractErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "/"}}
		contractRouter, contractErr = legacy.NewRouter(doc)
	})
	if contractErr != nil {
		t.Fatalf("openapi.yaml: %v", contractErr)
	}
	// Every response carries the security headers and a request id.
	for _, h := range []string{"X-Request-Id", "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy"} {
		if r.Header.Get(h) == "" {
			t.Errorf("%s %s: response lacks %s", hr.Method, hr.URL.Path, h)
		}
	}
	// The router matches on the request as the server saw it.
	vr := hr.Clone(context.Background())
	vr.URL.Scheme, vr.URL.Host, vr.Host = "", "", ""
	route, params, err := contractRouter.FindRoute(vr)
	if err != nil {
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in openapi.yaml but answered %d", hr.Method, hr.URL.Path, r.Status)
		}
		r.problem(t)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: vr, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  r.Status,
		Header:  r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d %s, which openapi.yaml does not allow: %v",
			hr.Method, hr.URL.Path, r.Status, truncate(r.Body), err)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
