package password_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/nextsecure/nextsecure/internal/password"
)

const (
	horse = "correct horse battery staple"
	// pw72 is exactly 72 bytes, the most bcrypt looks at.
	pw72 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^&*()"
)

// Hashes produced by independent implementations: bcryptjs 3.0.3 (salt
// prefix set to $2a$ or $2y$ where noted, as bcryptjs 2.x wrote $2a$) and
// hash-wasm 4.13.0 argon2id (libargon2 compiled to WebAssembly).
const (
	bcryptjs2a      = "$2a$10$CazM43qlx77hSkXNvyDCDuMVNybN9kgrT7XDx7F0yR.fLa0rXS4EO"                                      // horse
	bcryptjs2b      = "$2b$10$zL3vHqqJi77L7sJ6XFjIi./WMJEA9xE8DPcx4aYX/CKK73YRiub.a"                                      // "pässwörd ünïcode"
	bcryptjs2y      = "$2y$10$ovYFK1.T5jWFiSrL/tC1lewUDXLW9ydZUYMvSmyJFqk6y3nPM86Gu"                                      // "hunter2hunter2"
	bcryptjs72      = "$2a$10$ZmV2jrErkwWL/GcetqCm0.mC6Yb//N.CiL5rpChgRHan9qtpmfpdi"                                      // pw72
	argonCurrent    = "$argon2id$v=19$m=19456,t=2,p=1$sb41ID/m80T+YvPrwuKyrA$HpvsfMEpdKlDvGlA3k8FukQyf5SJQ6O5+uKX4dLWK9U" // horse
	argonStronger   = "$argon2id$v=19$m=65536,t=3,p=4$1dFC2T15HMswn1EpVNHNAw$W2Vu+TOpbkCt5sDCjEFFTSxlpl3jJpxgCr7kVnlqln0" // horse
	argonCheap      = "$argon2id$v=19$m=8,t=1,p=1$7v2a8eEsOL4DTpyRUO+D6A$royGSBfRTBH3NQxUv2mzr2QuKugq8zjY8044qSBGtPg"     // horse
	validBcryptTail = "CazM43qlx77hSkXNvyDCDuMVNybN9kgrT7XDx7F0yR.fLa0rXS4EO"
)

func TestHashRoundTrip(t *testing.T) {
	encoded, err := password.Hash(horse)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=19456,t=2,p=1" ||
		len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Fatalf("Hash = %q, want $argon2id$v=19$m=19456,t=2,p=1$<22 chars>$<43 chars>", encoded)
	}

	for _, tt := range []struct {
		name     string
		password string
		wantOK   bool
	}{
		{"same", horse, true},
		{"wrong", "correct horse battery stapler", false},
		{"case", "Correct horse battery staple", false},
		{"not trimmed", " " + horse + " ", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(tt.password, encoded)
			if err != nil || ok != tt.wantOK || rehash {
				t.Errorf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.wantOK)
			}
		})
	}

	again, err := password.Hash(horse)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if again == encoded {
		t.Errorf("two hashes of the same password are equal (%q): salt not random", again)
	}
}

func TestHashKeepsSpaces(t *testing.T) {
	encoded, err := password.Hash(" abcdefgh ")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if ok, _, _ := password.Verify("abcdefgh", encoded); ok {
		t.Errorf(`Verify("abcdefgh", Hash(" abcdefgh ")) = true, want false`)
	}
}

// TestVerifyVectors checks hashes written by other implementations.
func TestVerifyVectors(t *testing.T) {
	for _, tt := range []struct {
		name       string
		password   string
		encoded    string
		wantOK     bool
		wantRehash bool
	}{
		{"argon2id current", horse, argonCurrent, true, false},
		{"argon2id current wrong", horse + "!", argonCurrent, false, false},
		{"argon2id other params", horse, argonStronger, true, true},
		{"argon2id other params wrong", "Correct horse battery staple", argonStronger, false, false},
		{"argon2id cheap", horse, argonCheap, true, true},
		{"bcryptjs 2a", horse, bcryptjs2a, true, true},
		{"bcryptjs 2a wrong", horse + " ", bcryptjs2a, false, false},
		{"bcryptjs 2b utf8", "pässwörd ünïcode", bcryptjs2b, true, true},
		{"bcryptjs 2b wrong", "passwörd ünïcode", bcryptjs2b, false, false},
		{"bcryptjs 2y", "hunter2hunter2", bcryptjs2y, true, true},
		{"bcryptjs 72 bytes", pw72, bcryptjs72, true, true},
		// bcryptjs itself accepts this one (it truncates to 72 bytes).
		{"bcryptjs 73 bytes", pw72 + "X", bcryptjs72, false, false},
		{"bcryptjs 71 bytes", pw72[:71], bcryptjs72, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(tt.password, tt.encoded)
			if err != nil || ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestVerifyBcrypt(t *testing.T) {
	for _, tt := range []struct {
		name     string
		stored   string // password the hash is made from
		cost     int
		password string
		wantOK   bool
	}{
		{"min cost", "hunter2hunter2", bcrypt.MinCost, "hunter2hunter2", true},
		{"min cost wrong", "hunter2hunter2", bcrypt.MinCost, "hunter2hunter3", false},
		{"cost 10 like bcryptjs", horse, 10, horse, true},
		{"exactly 72 bytes", pw72, bcrypt.MinCost, pw72, true},
		{"73 bytes, first 72 match", pw72, bcrypt.MinCost, pw72 + "X", false},
		{"1000 bytes, first 72 match", pw72, bcrypt.MinCost, pw72 + strings.Repeat("X", 928), false},
		{"72 bytes multibyte", strings.Repeat("é", 36), bcrypt.MinCost, strings.Repeat("é", 36), true},
		{"74 bytes multibyte", strings.Repeat("é", 36), bcrypt.MinCost, strings.Repeat("é", 37), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := bcrypt.GenerateFromPassword([]byte(tt.stored), tt.cost)
			if err != nil {
				t.Fatalf("GenerateFromPassword: %v", err)
			}
			ok, rehash, err := password.Verify(tt.password, string(h))
			if err != nil || ok != tt.wantOK || rehash != tt.wantOK {
				t.Errorf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.wantOK, tt.wantOK)
			}
		})
	}
}

// phc encodes an argon2id hash of horse with the given parameters.
func phc(m, t uint32, p uint8, saltLen, keyLen int) string {
	salt := []byte(strings.Repeat("s", saltLen))
	key := argon2.IDKey([]byte(horse), salt, t, m, p, uint32(keyLen))
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p, enc.EncodeToString(salt), enc.EncodeToString(key))
}

func TestVerifyOtherParams(t *testing.T) {
	for _, tt := range []struct {
		name       string
		encoded    string
		wantRehash bool
	}{
		{"current", phc(19456, 2, 1, 16, 32), false},
		{"less memory", phc(8192, 2, 1, 16, 32), true},
		{"more iterations", phc(19456, 3, 1, 16, 32), true},
		{"parallel", phc(19456, 2, 2, 16, 32), true},
		{"longer key", phc(19456, 2, 1, 16, 64), true},
		{"shorter salt", phc(19456, 2, 1, 8, 32), true},
		{"smallest allowed", phc(8, 1, 1, 8, 16), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(horse, tt.encoded)
			if err != nil || !ok || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.wantRehash)
			}
			ok, rehash, err = password.Verify(horse+"!", tt.encoded)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyInvalid(t *testing.T) {
	const (
		salt = "c2FsdHNhbHRzYWx0c2FsdA" // 16 bytes
		key  = "HpvsfMEpdKlDvGlA3k8FukQyf5SJQ6O5+uKX4dLWK9U"
	)
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	for _, tt := range []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plaintext", "hunter2"},
		{"prefix only", "$argon2id$"},
		{"missing hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt},
		{"missing version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"trailing field", argon("m=19456,t=2,p=1") + "$"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"huge memory", argon("m=4294967295,t=2,p=1")},
		{"memory just over bound", argon("m=262145,t=2,p=1")},
		{"memory overflows uint32", argon("m=99999999999,t=2,p=1")},
		{"memory below 8p", argon("m=15,t=1,p=2")},
		{"zero iterations", argon("m=19456,t=0,p=1")},
		{"too many iterations", argon("m=19456,t=11,p=1")},
		{"zero parallelism", argon("m=19456,t=2,p=0")},
		{"too much parallelism", argon("m=19456,t=2,p=17")},
		{"parallelism overflows uint8", argon("m=19456,t=2,p=257")},
		{"reordered params", argon("t=2,m=19456,p=1")},
		{"missing param", argon("m=19456,t=2")},
		{"extra param", argon("m=19456,t=2,p=1,keyid=abc")},
		{"leading zero", argon("m=019456,t=2,p=1")},
		{"plus sign", argon("m=+19456,t=2,p=1")},
		{"negative", argon("m=-1,t=2,p=1")},
		{"empty value", argon("m=,t=2,p=1")},
		{"space", argon("m=19456, t=2,p=1")},
		{"bad base64 salt", "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"newline in hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:20] + "\n" + key[20:]},
		{"non-canonical trailing bits", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:42] + "V"},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key},
		{"salt too long", "$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("A", 88) + "$" + key},
		{"hash too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$c2FsdHNhbHQ"},
		{"hash too long", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("A", 174)},
		{"bcrypt too short", "$2a$10$short"},
		{"bcrypt trailing data", "$2a$10$" + validBcryptTail + "x"},
		{"bcrypt cost too high", "$2a$31$" + validBcryptTail},
		{"bcrypt cost too low", "$2a$03$" + validBcryptTail},
		{"bcrypt bad cost", "$2a$1x$" + validBcryptTail},
		{"bcrypt bad salt", "$2a$10$!!!!!!!!!!!!!!!!!!!!!!" + validBcryptTail[22:]},
		{"bcrypt 2x", "$2x$10$" + validBcryptTail},
		{"bcrypt no minor", "$2$10$" + validBcryptTail + "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(horse, tt.encoded)
			if !errors.Is(err, password.ErrInvalidHash) || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, ErrInvalidHash", ok, rehash, err)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	password.DummyVerify(horse)
	password.DummyVerify("")
}

// TestHashReusesWorkArea checks that Hash and Verify with the current
// parameters reuse a pooled work area instead of allocating 19 MiB.
func TestHashReusesWorkArea(t *testing.T) {
	encoded, err := password.Hash(horse) // fills the pool if empty
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 3 {
		password.Hash(horse)
		password.Verify(horse, encoded)
		password.DummyVerify(horse)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("9 hashes allocated %d bytes, want under 1 MiB (one work area is 19 MiB)", n)
	}
}

// TestHashConcurrent hashes and verifies from more goroutines than there are
// pooled work areas (run it with -race), and checks every hash against
// golang.org/x/crypto/argon2, since Hash and Verify use a vendored copy.
func TestHashConcurrent(t *testing.T) {
	const goroutines, rounds = 8, 3
	stronger := phc(8192, 3, 2, 16, 32) // another work-area size: not pooled
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				pw := fmt.Sprintf("password %d/%d", g, r)
				encoded, err := password.Hash(pw)
				if err != nil {
					t.Errorf("Hash: %v", err)
					return
				}
				parts := strings.Split(encoded, "$")
				salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
				key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
				if err1 != nil || err2 != nil {
					t.Errorf("Hash = %q: bad base64", encoded)
					return
				}
				if want := argon2.IDKey([]byte(pw), salt, 2, 19456, 1, 32); !bytes.Equal(key, want) {
					t.Errorf("Hash(%q) = %q, want key %s", pw, encoded, base64.RawStdEncoding.EncodeToString(want))
				}
				if ok, _, err := password.Verify(pw, encoded); !ok || err != nil {
					t.Errorf("Verify(%q, Hash) = %v, _, %v; want true, nil", pw, ok, err)
				}
				if ok, _, _ := password.Verify(pw+"x", encoded); ok {
					t.Errorf("Verify(%q, Hash(%q)) = true, want false", pw+"x", pw)
				}
				if ok, rehash, err := password.Verify(horse, stronger); !ok || !rehash || err != nil {
					t.Errorf("Verify(m=8192,p=2) = %v, %v, %v; want true, true, nil", ok, rehash, err)
				}
				password.DummyVerify(pw)
			}
		})
	}
	wg.Wait()
}

func FuzzVerify(f *testing.F) {
	cheapBcrypt, err := bcrypt.GenerateFromPassword([]byte(horse), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	// Seeds use cheap parameters so that mutations stay fast; the bounds
	// in Verify cap what a mutation can cost.
	for _, encoded := range []string{
		argonCheap,
		phc(8, 1, 1, 8, 16),
		string(cheapBcrypt),
		"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdA$c2FsdA",
		"$2a$31$" + validBcryptTail,
		"",
	} {
		f.Add(horse, encoded)
	}
	f.Add(pw72+"X", string(cheapBcrypt))
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		ok, rehash, err := password.Verify(pw, encoded)
		if err != nil && (ok || rehash) {
			t.Errorf("Verify = %v, %v, %v; want false, false with an error", ok, rehash, err)
		}
		if rehash && !ok {
			t.Errorf("Verify = %v, %v, nil; needsRehash without a match", ok, rehash)
		}
		if ok && strings.HasPrefix(encoded, "$2") && len(pw) > 72 {
			t.Errorf("Verify(%d-byte password, bcrypt) = true, want false", len(pw))
		}
	})
}

// BenchmarkHash measures the hashing limit: Hash on GOMAXPROCS goroutines,
// like the hash Limiter lets run.
func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := password.Hash(horse); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkHashUpstream is BenchmarkHash with golang.org/x/crypto/argon2,
// which allocates a fresh 19 MiB work area per hash, instead of the vendored
// copy whose work areas are pooled: the difference is the pool's gain.
func BenchmarkHashUpstream(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			salt := make([]byte, 16)
			rand.Read(salt)
			key := argon2.IDKey([]byte(horse), salt, 2, 19456, 1, 32)
			_ = fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s",
				base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

func BenchmarkVerify(b *testing.B) {
	encoded, err := password.Hash(horse)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := password.Verify(horse, encoded); !ok || err != nil {
			b.Fatalf("Verify = %v, _, %v; want true, nil", ok, err)
		}
	}
}
