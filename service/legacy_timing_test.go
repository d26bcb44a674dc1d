package service

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

// While imported bcrypt hashes (cost 10, several times an argon2id check)
// are in use, a failed sign-in on an imported account costs what one on an
// unknown email does, so the time does not tell them apart.
func TestLoginTimingLegacyHash(t *testing.T) {
	ctx := context.Background()
	pool := testdb.New(t)
	s := New(pool, DefaultConfig(), time.Now, slog.New(slog.DiscardHandler))
	h, err := bcrypt.GenerateFromPassword([]byte("the-template-password"), 10)
	if err != nil {
		t.Fatal(err)
	}
	const n = 7
	for i := range n {
		id := fmt.Sprintf("legacy%d", i)
		if _, err := pool.Exec(ctx, `INSERT INTO users (id, email, is_active) VALUES ($1, $1 || '@example.com', true)`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO credentials (id, user_id, password_hash) VALUES ($1, $1, $2)`, id, string(h)); err != nil {
			t.Fatal(err)
		}
	}
	measure := func(email string) time.Duration {
		start := time.Now()
		if _, _, err := s.Login(ctx, LoginInput{Email: email, Password: "a-wrong-password"}, Meta{}); ErrorCode(err) != CodeInvalidCreds {
			t.Fatalf("Login(%s) = %v, want invalid credentials", email, err)
		}
		return time.Since(start)
	}
	var legacy, unknown []time.Duration
	for i := range n { // interleaved, so load from elsewhere falls on both
		legacy = append(legacy, measure(fmt.Sprintf("legacy%d@example.com", i)))
		unknown = append(unknown, measure(fmt.Sprintf("nobody%d@example.com", i)))
	}
	slices.Sort(legacy)
	slices.Sort(unknown)
	l, u := legacy[n/2], unknown[n/2]
	if ratio := float64(max(l, u)) / float64(min(l, u)); ratio > 1.5 {
		t.Errorf("median failed sign-in: bcrypt account %v, unknown email %v (ratio %.2f), want within 1.5", l, u, ratio)
	}
}
