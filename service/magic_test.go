package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/service"
)

// TestMagicAndChangeRequestsDoTheSameWork: asking for a sign-in link sends
// the same statements whatever the email (unknown, an active account, a
// deactivated one, a pending registration): one transaction that inserts
// one job; and asking to change one's address sends the same statements
// whether the new address is free, pending or has an account. What differs
// is decided in the job, out of the request's time.
func TestMagicAndChangeRequestsDoTheSameWork(t *testing.T) {
	t.Parallel()
	svc, rec, plain := newTracedService(t)
	ctx := context.Background()
	if _, err := plain.Exec(ctx, `INSERT INTO users (id, name, email, email_verified, is_active, role) VALUES
		('u1', 'Owner', 'owner@example.com', now(), true, 'user'),
		('u2', 'Off', 'off@example.com', now(), false, 'user')`); err != nil {
		t.Fatal(err)
	}
	if err := svc.Register(ctx, service.RegisterInput{Name: "Pat", Email: "pending@example.com",
		Password: "a long pending password"}, service.Meta{}); err != nil {
		t.Fatal(err)
	}
	owner := service.Principal{User: service.User{ID: "u1", Email: "owner@example.com"}, SessionID: "s1"}
	for _, tt := range []struct {
		name   string
		call   func(email string) error
		emails []string
	}{
		{"magic link", func(email string) error { return svc.RequestMagicLink(ctx, email, service.Meta{IP: "192.0.2.1"}) },
			[]string{"unknown@example.com", "owner@example.com", "off@example.com", "pending@example.com"}},
		{"email change", func(email string) error {
			return svc.RequestEmailChange(ctx, owner, service.ChangeEmailInput{Email: email}, service.Meta{IP: "192.0.2.1"})
		}, []string{"unknown@example.com", "off@example.com", "pending@example.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec.take()
			var first []string
			for _, email := range tt.emails {
				if err := tt.call(email); err != nil {
					t.Fatal(err)
				}
				got := rec.take()
				if first == nil {
					first = got
					n := len(got)
					// (The email change reads the credential first, to re-authenticate.)
					if n < 3 || !slices.ContainsFunc(got, func(s string) bool { return strings.EqualFold(s, "begin") }) ||
						!strings.Contains(got[n-2], "INSERT INTO river_job") ||
						!strings.EqualFold(got[n-1], "commit") {
						t.Fatalf("%s: statements %q, want one transaction ending in a job insert", email, got)
					}
					continue
				}
				if !slices.Equal(got, first) {
					t.Errorf("%s: statements %q, want the same as for an unknown email: %q", email, got, first)
				}
			}
		})
	}
}
