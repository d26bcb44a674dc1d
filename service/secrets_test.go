package service

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

var (
	oldSecret = strings.Repeat("o", 32)
	newSecret = strings.Repeat("n", 32)
)

// newSecretsService returns a service on pool whose AUTH_SECRET is authSecret.
func newSecretsService(tb testing.TB, pool *pgxpool.Pool, authSecret string) *Service {
	tb.Helper()
	ks, err := secrets.Parse(authSecret)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Secrets = ks
	return New(pool, cfg, time.Now, nil)
}

// mustCreateAccount stores a provider account with the given tokens as they
// are (sealed or not) for a new user.
func mustCreateAccount(tb testing.TB, pool *pgxpool.Pool, provider, accountID string, refresh, access, id *string) {
	tb.Helper()
	ctx := context.Background()
	userID := provider + "-" + accountID
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, email, is_active) VALUES ($1, $2, true)`, userID, userID+"@example.com"); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.New(pool).CreateAccount(ctx, db.CreateAccountParams{
		UserID: userID, Type: "oauth", Provider: provider, ProviderAccountID: accountID,
		RefreshToken: refresh, AccessToken: access, IDToken: id,
	}); err != nil {
		tb.Fatal(err)
	}
}

// mustSealToken seals a provider token as the service stores it.
func mustSealToken(tb testing.TB, svc *Service, provider, accountID, column, token string) *string {
	tb.Helper()
	sealed, err := svc.sealProviderToken(provider, accountID, column, &token)
	if err != nil {
		tb.Fatal(err)
	}
	return sealed
}

// storedTokens reads an account's three token columns as stored.
func storedTokens(tb testing.TB, pool *pgxpool.Pool, provider, accountID string) [3]*string {
	tb.Helper()
	r, err := db.New(pool).GetAccountSecrets(context.Background(), db.GetAccountSecretsParams{Provider: provider, ProviderAccountID: accountID})
	if err != nil {
		tb.Fatal(err)
	}
	return [3]*string{r.RefreshToken, r.AccessToken, r.IDToken}
}

// openedTokens opens an account's tokens with svc, failing the test if a
// value is not sealed under svc's first key.
func openedTokens(tb testing.TB, svc *Service, pool *pgxpool.Pool, provider, accountID string) [3]string {
	tb.Helper()
	var out [3]string
	for i, col := range []string{colRefreshToken, colAccessToken, colIDToken} {
		stored := storedTokens(tb, pool, provider, accountID)[i]
		if stored == nil {
			out[i] = "<nil>"
			continue
		}
		if !svc.cfg.Secrets.IsCurrent(*stored) {
			tb.Errorf("%s/%s %s = %q, not sealed under the first key", provider, accountID, col, *stored)
		}
		pt, err := svc.openProviderToken(provider, accountID, col, stored)
		if err != nil {
			tb.Fatalf("open %s/%s %s: %v", provider, accountID, col, err)
		}
		out[i] = *pt
	}
	return out
}

// Rotation: values sealed under the old key and plain text left by older
// versions are sealed under the new key, across several keyset batches;
// NULLs stay NULL; a second run changes nothing.
func TestReencryptSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	old := newSecretsService(t, pool, oldSecret)

	mustCreateAccount(t, pool, "github", "1",
		mustSealToken(t, old, "github", "1", colRefreshToken, "refresh-1"),
		mustSealToken(t, old, "github", "1", colAccessToken, "access-1"), nil)
	mustCreateAccount(t, pool, "github", "2", ptr("plain-refresh-2"), ptr("plain-access-2"), ptr("plain-id-2"))
	mustCreateAccount(t, pool, "", "", nil, ptr("plain-empty-key"), nil) // the key before the keyset's start
	// More plain-text rows than two batches hold, so the keyset pages.
	const bulk = 2*reencryptBatch + 7
	if _, err := pool.Exec(ctx, `
		INSERT INTO users (id, email) SELECT 'bulk-' || i, 'bulk-' || i || '@example.com' FROM generate_series(1, $1) i;
		`, bulk); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO accounts (user_id, type, provider, provider_account_id, access_token)
		SELECT 'bulk-' || i, 'oidc', 'keycloak', lpad(i::text, 5, '0'), 'access-' || i FROM generate_series(1, $1) i`, bulk); err != nil {
		t.Fatal(err)
	}

	rotated := newSecretsService(t, pool, newSecret+","+oldSecret)
	res, err := rotated.ReencryptSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReencryptResult{Reencrypted: 2 + 3 + 1 + bulk}); res != want {
		t.Errorf("ReencryptSecrets = %+v, want %+v", res, want)
	}

	onlyNew := newSecretsService(t, pool, newSecret)
	if got, want := openedTokens(t, onlyNew, pool, "github", "1"), [3]string{"refresh-1", "access-1", "<nil>"}; got != want {
		t.Errorf("github/1 tokens = %q, want %q", got, want)
	}
	if got, want := openedTokens(t, onlyNew, pool, "github", "2"), [3]string{"plain-refresh-2", "plain-access-2", "plain-id-2"}; got != want {
		t.Errorf("github/2 tokens = %q, want %q", got, want)
	}
	if got, want := openedTokens(t, onlyNew, pool, "", ""), [3]string{"<nil>", "plain-empty-key", "<nil>"}; got != want {
		t.Errorf("the empty key's tokens = %q, want %q", got, want)
	}
	for _, i := range []int{1, reencryptBatch, reencryptBatch + 1, bulk} {
		id := fmt.Sprintf("%05d", i)
		if got, want := openedTokens(t, onlyNew, pool, "keycloak", id), [3]string{"<nil>", fmt.Sprintf("access-%d", i), "<nil>"}; got != want {
			t.Errorf("keycloak/%s tokens = %q, want %q", id, got, want)
		}
	}
	var plain int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE access_token NOT LIKE $1`, secrets.Prefix+"%").Scan(&plain); err != nil || plain != 0 {
		t.Errorf("access tokens left in plain text = %d, %v; want 0", plain, err)
	}

	again, err := rotated.ReencryptSecrets(ctx)
	if want := (ReencryptResult{Current: 2 + 3 + 1 + bulk}); err != nil || again != want {
		t.Errorf("ReencryptSecrets again = %+v, %v; want %+v (idempotent)", again, err, want)
	}
}

// A value that does not open under any key (sealed under a value no longer
// in AUTH_SECRET, or copied from another row) is counted and left alone;
// the row's other values are still re-encrypted.
func TestReencryptSecretsLeavesWhatDoesNotOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	old := newSecretsService(t, pool, oldSecret)
	lost := mustSealToken(t, newSecretsService(t, pool, strings.Repeat("x", 32)), "github", "1", colRefreshToken, "r")
	copied := mustSealToken(t, old, "github", "other", colAccessToken, "a") // bound to another row
	mustCreateAccount(t, pool, "github", "1", lost, copied, ptr("plain-id"))

	rotated := newSecretsService(t, pool, newSecret+","+oldSecret)
	res, err := rotated.ReencryptSecrets(ctx)
	if want := (ReencryptResult{Reencrypted: 1, Failed: 2}); err != nil || res != want {
		t.Fatalf("ReencryptSecrets = %+v, %v; want %+v", res, err, want)
	}
	got := storedTokens(t, pool, "github", "1")
	if *got[0] != *lost || *got[1] != *copied {
		t.Errorf("values that do not open were changed: %q, %q", *got[0], *got[1])
	}
	if pt, err := rotated.openProviderToken("github", "1", colIDToken, got[2]); err != nil || *pt != "plain-id" || !rotated.cfg.Secrets.IsCurrent(*got[2]) {
		t.Errorf("id_token = %q (%v), want plain-id sealed under the first key", *got[2], err)
	}
}

// A write between re-encryption's read and its update is never
// overwritten: the compare-and-swap misses, the row is read again, and what
// was written is what gets sealed. A row deleted meanwhile is skipped.
func TestReencryptSecretsCompareAndSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	old := newSecretsService(t, pool, oldSecret)
	mustCreateAccount(t, pool, "github", "1", nil, mustSealToken(t, old, "github", "1", colAccessToken, "stale"), nil)
	mustCreateAccount(t, pool, "github", "2", nil, ptr("plain"), nil)

	rotated := newSecretsService(t, pool, newSecret+","+oldSecret)
	writes := 0
	rotated.beforeSwap = func() {
		writes++
		switch writes {
		case 1: // a sign-in refreshes github/1's token (an older instance, in plain text)
			if _, err := pool.Exec(ctx, `UPDATE accounts SET access_token = 'fresh' WHERE provider_account_id = '1'`); err != nil {
				t.Error(err)
			}
		case 3: // github/2 is unlinked
			if _, err := pool.Exec(ctx, `DELETE FROM accounts WHERE provider_account_id = '2'`); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := rotated.ReencryptSecrets(ctx)
	if want := (ReencryptResult{Reencrypted: 1}); err != nil || res != want {
		t.Fatalf("ReencryptSecrets = %+v, %v; want %+v", res, err, want)
	}
	if writes != 3 {
		t.Errorf("compare-and-swaps tried = %d, want 3 (github/1 twice, github/2 once)", writes)
	}
	if got := openedTokens(t, rotated, pool, "github", "1")[1]; got != "fresh" {
		t.Errorf("github/1 access_token = %q after a concurrent write, want fresh (the write kept)", got)
	}
}

// Real concurrency: while ReencryptSecrets runs, writers keep replacing
// tokens (as a sign-in does). When all stop, every row holds the last value
// its writer wrote: re-encryption lost no write.
func TestReencryptSecretsConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	const rows, writers = 600, 4
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, email) SELECT 'u' || i, 'u' || i || '@example.com' FROM generate_series(1, $1) i`, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO accounts (user_id, type, provider, provider_account_id, access_token)
		SELECT 'u' || i, 'oidc', 'keycloak', lpad(i::text, 5, '0'), 'v0' FROM generate_series(1, $1) i`, rows); err != nil {
		t.Fatal(err)
	}
	svc := newSecretsService(t, pool, newSecret+","+oldSecret)

	stop := make(chan struct{})
	started := make(chan struct{}, writers)
	last := make([]map[string]string, writers)
	errs := make(chan error, writers)
	for w := range writers {
		last[w] = map[string]string{}
		go func() {
			n, passed := 0, false
			for {
				for i := w + 1; i <= rows; i += writers {
					select {
					case <-stop:
						errs <- nil
						return
					default:
					}
					id, v := fmt.Sprintf("%05d", i), fmt.Sprintf("w%d-%d", w, n)
					if _, err := pool.Exec(ctx, `UPDATE accounts SET access_token = $1 WHERE provider = 'keycloak' AND provider_account_id = $2`, v, id); err != nil {
						errs <- err
						return
					}
					last[w][id] = v
					n++
				}
				if !passed {
					passed = true
					started <- struct{}{} // one full pass: the writers are running
				}
			}
		}()
	}
	for range writers {
		<-started
	}
	res, err := svc.ReencryptSecrets(ctx)
	close(stop)
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err != nil || res.Reencrypted == 0 || res.Failed != 0 {
		t.Fatalf("ReencryptSecrets = %+v, %v; want values re-encrypted, none failed", res, err)
	}
	lost := 0
	for w := range writers {
		for id, want := range last[w] {
			stored := storedTokens(t, pool, "keycloak", id)[1]
			got, err := svc.openProviderToken("keycloak", id, colAccessToken, stored)
			if err != nil || got == nil || *got != want {
				lost++
				if lost <= 3 {
					t.Errorf("keycloak/%s access_token = %v (%v), want the last write %q", id, deref(got), err, want)
				}
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d writes lost", lost)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestReencryptTOTPSecrets: the TOTP secrets of user_mfa, enabled and
// pending, are re-sealed under the first key too, and a second run finds
// them current.
func TestReencryptTOTPSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	old := newSecretsService(t, pool, oldSecret)
	rotated := newSecretsService(t, pool, newSecret+","+oldSecret)
	seal := func(svc *Service, userID, secret string) string {
		t.Helper()
		sealed, err := svc.sealTOTP(userID, secret)
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com'), ('u2', 'u2@example.com')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO user_mfa (user_id, secret, pending_secret, enabled_at) VALUES
		('u1', $1, $2, now()), ('u2', NULL, $3, NULL)`,
		seal(old, "u1", "SECRETONE"), seal(old, "u1", "PENDINGONE"), seal(rotated, "u2", "PENDINGTWO")); err != nil {
		t.Fatal(err)
	}
	res, err := rotated.ReencryptSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReencryptResult{Reencrypted: 2, Current: 1}); res != want {
		t.Errorf("ReencryptSecrets = %+v, want %+v", res, want)
	}
	onlyNew := newSecretsService(t, pool, newSecret)
	for _, tt := range []struct{ user, column, want string }{
		{"u1", "secret", "SECRETONE"}, {"u1", "pending_secret", "PENDINGONE"}, {"u2", "pending_secret", "PENDINGTWO"},
	} {
		var sealed string
		if err := pool.QueryRow(ctx, `SELECT `+tt.column+` FROM user_mfa WHERE user_id = $1`, tt.user).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		got, err := onlyNew.openTOTP(tt.user, sealed)
		if err != nil || got != tt.want {
			t.Errorf("%s %s opens under the new key alone to %q, %v; want %q", tt.user, tt.column, got, err, tt.want)
		}
	}
	if res, err := rotated.ReencryptSecrets(ctx); err != nil || res != (ReencryptResult{Current: 3}) {
		t.Errorf("second run = %+v, %v; want 3 current", res, err)
	}
}
