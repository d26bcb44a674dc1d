package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/smtptest"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

// Two serve instances on one database send the mail of both through River:
// each message once, and its link works on either instance.
func TestServeSendsMailThroughQueue(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	smtp := smtptest.Start(t)
	env := map[string]string{"DATABASE_URL": dsn, "EMAIL_SERVER": smtp.URL(), "BASE_URL": "http://app.example.test"}
	a, b := startServe(t, env), startServe(t, env)

	const n = 6
	for i := range n {
		s := []*server{a, b}[i%2]
		r := do(t, "POST", s.URL+"/v1/auth/register", map[string]string{
			"name": "Q", "email": fmt.Sprintf("q%d@example.com", i), "password": "a long enough password",
		})
		if r.Status != http.StatusAccepted {
			t.Fatalf("register = %d %s, want 202", r.Status, r.Body)
		}
	}
	smtp.WaitFor(t, n, 30*time.Second)
	// Every job is finished: none left to send a copy.
	conn := connect(t, dsn)
	waitFor(t, 30*time.Second, "the mail jobs to complete", func() bool {
		var open int
		err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM river_job WHERE kind = 'verify_email' AND state <> 'completed'").Scan(&open)
		return err == nil && open == 0
	})
	msgs := smtp.Messages()
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.To[0]]++
	}
	if len(msgs) != n || len(seen) != n {
		t.Fatalf("%d messages to %d addresses, want %d to %d", len(msgs), len(seen), n, n)
	}
	link := msgs[0].FindLink("http://app.example.test/verify-email?token=")
	u, err := url.Parse(link)
	if link == "" || err != nil {
		t.Fatalf("no verification link in %q", msgs[0].Text)
	}
	if r := do(t, "POST", b.URL+"/v1/auth/verify-email", map[string]string{"token": u.Query().Get("token")}); r.Status != http.StatusCreated {
		t.Errorf("verify-email = %d %s, want 201", r.Status, r.Body)
	}
}

// MAGIC_LINK_TTL reaches the service: the sign-in link's mail states it.
func TestServeMagicLinkTTL(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	smtp := smtptest.Start(t)
	s := startServe(t, map[string]string{"DATABASE_URL": dsn, "EMAIL_SERVER": smtp.URL(),
		"BASE_URL": "http://app.example.test", "MAGIC_LINK_TTL": "7m"})
	if _, err := connect(t, dsn).Exec(context.Background(), `INSERT INTO users (id, name, email, email_verified, is_active, role)
		VALUES ('u1', 'Ada', 'ada@example.com', now(), true, 'user')`); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "POST", s.URL+"/v1/auth/magic-link", map[string]string{"email": "ada@example.com"}); r.Status != http.StatusAccepted {
		t.Fatalf("magic-link = %d %s, want 202", r.Status, r.Body)
	}
	smtp.WaitFor(t, 1, 30*time.Second)
	m := smtp.Messages()[0]
	if m.FindLink("http://app.example.test/magic-link?token=") == "" || !strings.Contains(m.Text, "expires in 7 minutes") {
		t.Errorf("mail %q: want the sign-in link, valid 7 minutes", m.Text)
	}
}
