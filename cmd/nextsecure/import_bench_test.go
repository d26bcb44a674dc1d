package main

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

// BenchmarkImport100k imports 100,000 users with credentials and 50,000
// GitHub accounts into an empty database, and reports the largest heap seen
// while it ran (streamed rows keep it flat). The figure is in
// docs/performance.md.
//
//	go test ./cmd/nextsecure -run '^$' -bench Import100k -benchtime 1x
func BenchmarkImport100k(b *testing.B) {
	ctx := context.Background()
	from := testdb.NewEmptyURL(b)
	src := connect(b, from)
	if _, err := src.Exec(ctx, prismaDDL); err != nil {
		b.Fatal(err)
	}
	// One real cost-10 bcrypt hash for everyone: hashing 100,000 would only time bcrypt.
	const hash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	for _, q := range []string{
		`INSERT INTO "User" (id, name, email, "isActive", "updatedAt")
		 SELECT 'cu' || i, 'User ' || i, 'user' || i || '@example.com', true, now() FROM generate_series(1, 100000) i`,
		`INSERT INTO "Credential" (id, "userId", "passwordHash", "updatedAt")
		 SELECT 'cc' || i, 'cu' || i, '` + hash + `', now() FROM generate_series(1, 100000) i`,
		`INSERT INTO "Account" ("userId", type, provider, "providerAccountId", access_token, refresh_token, token_type, scope, "updatedAt")
		 SELECT 'cu' || i, 'oauth', 'github', i::text, 'gho_' || md5(i::text), 'ghr_' || md5(i::text), 'bearer', 'read:user', now()
		 FROM generate_series(1, 50000) i`,
	} {
		if _, err := src.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		dest := testdb.NewURL(b)
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		b.StartTimer()
		if out, err := runImport(ctx, dest, "--from", from); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		b.StopTimer()
		close(done)
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.StartTimer()
	}
}
