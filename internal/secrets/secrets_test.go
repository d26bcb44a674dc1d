package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

var (
	secretA = strings.Repeat("a", 32)
	secretB = Generate()
)

func mustParse(tb testing.TB, s string) *Keyring {
	tb.Helper()
	k, err := Parse(s)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return k
}

func mustSeal(tb testing.TB, k *Keyring, purpose, plaintext, ad string) string {
	tb.Helper()
	s, err := k.Seal(purpose, []byte(plaintext), []byte(ad))
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k := mustParse(t, secretA)
	for _, pt := range []string{"", "x", "gho_16C7e42F292c6912E7710c838347Ae178B4a", strings.Repeat("long ", 1000)} {
		sealed := mustSeal(t, k, "provider-token", pt, "github\x00123")
		if !strings.HasPrefix(sealed, Prefix) {
			t.Errorf("Seal = %q, want prefix %q", sealed, Prefix)
		}
		if strings.Contains(sealed, pt) && pt != "" && pt != "x" {
			t.Errorf("Seal = %q contains the plaintext", sealed)
		}
		if !IsSealed(sealed) || !k.IsCurrent(sealed) {
			t.Errorf("IsSealed, IsCurrent(%q) = %v, %v; want true, true", sealed, IsSealed(sealed), k.IsCurrent(sealed))
		}
		got, err := k.Open("provider-token", sealed, []byte("github\x00123"))
		if err != nil || string(got) != pt {
			t.Errorf("Open = %q, %v; want %q, nil", got, err, pt)
		}
	}
	// Random nonces: the same plaintext seals differently each time.
	if a, b := mustSeal(t, k, "p", "same", ""), mustSeal(t, k, "p", "same", ""); a == b {
		t.Errorf("two seals of one plaintext are equal: %q", a)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	k := mustParse(t, secretA)
	sealed := mustSeal(t, k, "provider-token", "token", "row-1")
	raw, err := decode(sealed)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return Prefix + b64.EncodeToString(b)
	}
	for _, tt := range []struct {
		name    string
		keyring *Keyring
		purpose string
		sealed  string
		ad      string
		want    error
	}{
		{name: "wrong associated data", keyring: k, purpose: "provider-token", sealed: sealed, ad: "row-2", want: ErrAuth},
		{name: "no associated data", keyring: k, purpose: "provider-token", sealed: sealed, ad: "", want: ErrAuth},
		{name: "wrong purpose", keyring: k, purpose: "totp-secret", sealed: sealed, ad: "row-1", want: ErrAuth},
		{name: "wrong key", keyring: mustParse(t, secretB), purpose: "provider-token", sealed: sealed, ad: "row-1", want: ErrUnknownKey},
		{name: "key id altered", keyring: mustParse(t, secretA), purpose: "provider-token", sealed: flip(0), ad: "row-1", want: ErrUnknownKey},
		{name: "nonce altered", keyring: k, purpose: "provider-token", sealed: flip(idLen), ad: "row-1", want: ErrAuth},
		{name: "ciphertext altered", keyring: k, purpose: "provider-token", sealed: flip(idLen + nonceLen), ad: "row-1", want: ErrAuth},
		{name: "tag altered", keyring: k, purpose: "provider-token", sealed: flip(len(raw) - 1), ad: "row-1", want: ErrAuth},
		{name: "truncated", keyring: k, purpose: "provider-token", sealed: Prefix + b64.EncodeToString(raw[:len(raw)-1]), ad: "row-1", want: ErrAuth},
		{name: "too short", keyring: k, purpose: "provider-token", sealed: Prefix + "AAAA", ad: "row-1", want: ErrMalformed},
		{name: "plaintext", keyring: k, purpose: "provider-token", sealed: "token", ad: "row-1", want: ErrMalformed},
		{name: "other version", keyring: k, purpose: "provider-token", sealed: "enc:v2:" + strings.TrimPrefix(sealed, Prefix), ad: "row-1", want: ErrMalformed},
		{name: "not base64url", keyring: k, purpose: "provider-token", sealed: sealed + "+", ad: "row-1", want: ErrMalformed},
		{name: "line break", keyring: k, purpose: "provider-token", sealed: sealed[:20] + "\n" + sealed[20:], ad: "row-1", want: ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keyring.Open(tt.purpose, tt.sealed, []byte(tt.ad))
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// Rotation: with "new,old" a value sealed under old still opens, is not
// current, and sealing again puts it under new.
func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustParse(t, secretA)
	sealedOld := mustSeal(t, old, "provider-token", "token", "row")

	rotated := mustParse(t, secretB+", "+secretA)
	got, err := rotated.Open("provider-token", sealedOld, []byte("row"))
	if err != nil || string(got) != "token" {
		t.Fatalf("Open under new,old = %q, %v; want token, nil", got, err)
	}
	if rotated.IsCurrent(sealedOld) {
		t.Error("IsCurrent(sealed under old) = true under new,old; want false")
	}
	resealed := mustSeal(t, rotated, "provider-token", string(got), "row")
	if !rotated.IsCurrent(resealed) {
		t.Error("IsCurrent(resealed) = false, want true")
	}
	onlyNew := mustParse(t, secretB)
	if got, err := onlyNew.Open("provider-token", resealed, []byte("row")); err != nil || string(got) != "token" {
		t.Errorf("Open of the re-sealed value under new alone = %q, %v; want token, nil", got, err)
	}
	if _, err := onlyNew.Open("provider-token", sealedOld, []byte("row")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open of the old value under new alone = %v, want ErrUnknownKey", err)
	}
	if old.IsCurrent(resealed) {
		t.Error("IsCurrent(sealed under new) = true under old; want false")
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		in      string
		keys    int
		wantErr string
	}{
		{name: "one", in: secretA, keys: 1},
		{name: "generated", in: Generate(), keys: 1},
		{name: "two with spaces", in: " " + secretB + " , " + secretA + " ", keys: 2},
		{name: "repeated kept once", in: secretA + "," + secretA, keys: 1},
		{name: "empty", in: "", wantErr: "no secret"},
		{name: "blank", in: "   ", wantErr: "no secret"},
		{name: "short", in: "hunter2", wantErr: "7 bytes, want at least 32"},
		{name: "31 bytes", in: strings.Repeat("a", 31), wantErr: "31 bytes, want at least 32"},
		{name: "second short", in: secretA + ",short", wantErr: "value 2 of 2: 5 bytes, want at least 32"},
		{name: "trailing comma", in: secretA + ",", wantErr: "value 2 of 2: 0 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, %v; want an error containing %q", k, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.in)) && strings.TrimSpace(tt.in) != "" {
					t.Errorf("error %q repeats the secret", err)
				}
				return
			}
			if err != nil || len(k.keys) != tt.keys {
				t.Fatalf("Parse = %v, %v; want %d keys", k, err, tt.keys)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	a, b := Generate(), Generate()
	if a == b {
		t.Fatalf("Generate returned %q twice", a)
	}
	raw, err := b64.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Errorf("Generate = %q: %d bytes, %v; want 32 bytes of base64url", a, len(raw), err)
	}
	if strings.ContainsAny(a, ", \n") {
		t.Errorf("Generate = %q holds a separator", a)
	}
}

// The keyring never prints its secrets.
func TestKeyringString(t *testing.T) {
	t.Parallel()
	k := mustParse(t, secretA)
	for _, s := range []string{k.String(), k.GoString()} {
		if strings.Contains(s, secretA) {
			t.Errorf("String = %q holds the secret", s)
		}
	}
}

// FuzzOpen feeds arbitrary text to the decoder: it never panics, accepts
// only the canonical encoding, and nothing but a value that Seal made opens.
// The seed corpus is in testdata/fuzz/FuzzOpen. The value that opens is a
// constant: each fuzzing worker runs this function anew, and a Seal here
// would pick another nonce in each.
func FuzzOpen(f *testing.F) {
	const valid = "enc:v1:wY-wOnizlFPCN4Cfr_K-95R9U3fDel7XjGLxTV9VxCwflqn7CQ" // "token" under secretA, AD "row"
	k := mustParse(f, secretA)
	if got, err := k.Open("provider-token", valid, []byte("row")); err != nil || string(got) != "token" {
		f.Fatalf("Open(valid) = %q, %v; want token", got, err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := decode(s)
		if err == nil && Prefix+b64.EncodeToString(raw) != s {
			t.Fatalf("decode accepted the non-canonical %q", s)
		}
		if IsSealed(s) != (err == nil) {
			t.Fatalf("IsSealed(%q) = %v, but decode = %v", s, IsSealed(s), err)
		}
		got, err := k.Open("provider-token", s, []byte("row"))
		if err == nil && (s != valid || string(got) != "token") {
			t.Fatalf("Open(%q) = %q, nil; only the seeded value should open", s, got)
		}
	})
}

// One keyring serves many goroutines (run with -race): keys per purpose
// are derived once and shared.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	k := mustParse(t, secretA+","+secretB)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				purpose := fmt.Sprintf("purpose-%d", i%5)
				pt := fmt.Sprintf("%d-%d", g, i)
				sealed, err := k.Seal(purpose, []byte(pt), []byte(pt))
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := k.Open(purpose, sealed, []byte(pt)); err != nil || string(got) != pt {
					t.Errorf("Open = %q, %v; want %q", got, err, pt)
					return
				}
			}
		})
	}
	wg.Wait()
}
