package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPanicBecomesProblem(t *testing.T) {
	var logs bytes.Buffer
	a := &api{cfg: Config{RequestTimeout: time.Second, BaseURL: "https://auth.example.com"},
		log: slog.New(LogHandler{slog.NewJSONHandler(&logs, nil)})}
	h := a.common(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom: secret-value")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/me", nil))

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `"code":"internal"`) || strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Errorf("body = %s, want an internal problem without the panic or a stack", body)
	}
	id := rec.Header().Get("X-Request-Id")
	if id == "" || !strings.Contains(logs.String(), id) {
		t.Errorf("request id %q missing from the header or the log line", id)
	}
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS although BASE_URL is https")
	}
}

// TestRequestIDs checks that ids are 24 hex digits and distinct, and that
// they do not count requests: consecutive ids share no long prefix.
func TestRequestIDs(t *testing.T) {
	seen := map[string]bool{}
	prev, shared := "", 0
	for range 1000 {
		id := newRequestID()
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 24 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeats", id)
		}
		seen[id] = true
		if len(prev) == 24 && id[:12] == prev[:12] {
			shared++
		}
		prev = id
	}
	if shared > 0 {
		t.Errorf("%d of 1000 consecutive ids share their first 12 digits: ids look sequential", shared)
	}
}
