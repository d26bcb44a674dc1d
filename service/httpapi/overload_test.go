package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/service"
)

// When the hashing slots cannot serve a sign-in or a registration within
// the maximum wait, it is refused with 503 and Retry-After before any
// database work: the attempt is not counted against the account, and no
// registration is stored.
func TestHashingOverloadRefusedBeforeWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.HashSlots, c.HashWait = 1, time.Millisecond })
	// One sign-in sets the pace of the hashes (several milliseconds each).
	e.login("ada@example.com", "not the password").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")

	unblock, held := make(chan struct{}), make(chan error)
	go func() { held <- e.svc.HashLimiter().Do(context.Background(), func() { <-unblock }) }()
	for e.svc.HashLimiter().InUse() == 0 {
		time.Sleep(time.Millisecond)
	}
	r := e.login("ada@example.com", "not the password")
	r.wantProblem(t, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if n := e.count(`SELECT COALESCE(sum(count), 0)::int FROM rate_limits WHERE key = 'login:ada@example.com'`); n != 1 {
		t.Errorf("the refused sign-in was counted: %d attempts, want 1", n)
	}
	e.do(req{method: "POST", path: "/v1/auth/register",
		body: map[string]string{"name": "Bo", "email": "bo@example.com", "password": goodPassword}}).
		wantProblem(t, http.StatusServiceUnavailable, "unavailable")
	if n := e.count(`SELECT count(*)::int FROM preregistrations`); n != 0 {
		t.Errorf("the refused registration stored %d rows", n)
	}
	close(unblock)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}
