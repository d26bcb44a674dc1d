package service

import (
	"strings"
	"testing"
	"time"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"  Alice@Example.COM \t", "alice@example.com", true},
		{"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk", true},
		{"o'brien@example.ie", "o'brien@example.ie", true},
		{"", "", false},
		{"alice", "", false},
		{"alice@", "", false},
		{"@example.com", "", false},
		{"alice@localhost", "", false},
		{"alice@@example.com", "", false},
		{"a@b@example.com", "", false},
		{".alice@example.com", "", false},
		{"alice.@example.com", "", false},
		{"al..ice@example.com", "", false},
		{"Alice <alice@example.com>", "", false},
		{"alice@example.com, bob@example.com", "", false},
		{"alice(comment)@example.com", "", false},
		{`"alice smith"@example.com`, "", false},
		{"alice@example.com\r\nBcc: evil@example.com", "", false},
		{"ali\x00ce@example.com", "", false},
		{"alice@-example.com", "", false},
		{"alice@example-.com", "", false},
		{"alice@exa_mple.com", "", false},
		{"alïce@example.com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com", true},
		{"a@" + strings.Repeat("b", 250) + ".com", "", false},
	} {
		got, ok := NormalizeEmail(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeEmail(%q) = %q, %t; want %q, %t", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzNormalizeEmail checks the normaliser's invariants: what it accepts is
// short, lower case, free of anything that could break a mail header, and a
// fixed point.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", " A@B.CO ", "a\r\n@b.com", "Eve <e@x.io>", "a@b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := NormalizeEmail(in)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", in, got)
			}
			return
		}
		if len(got) > maxEmailLen || got != strings.ToLower(got) || strings.Count(got, "@") != 1 {
			t.Fatalf("NormalizeEmail(%q) = %q: too long, not lower case or not one @", in, got)
		}
		if strings.ContainsAny(got, "\r\n\x00 <>,;:\"()[]\\") {
			t.Fatalf("NormalizeEmail(%q) = %q holds a character unsafe in a header", in, got)
		}
		if again, ok := NormalizeEmail(got); !ok || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, %t; want it unchanged", got, again, ok)
		}
	})
}

func TestNormalizeName(t *testing.T) {
	for _, tt := range []struct {
		in, want, code string
	}{
		{"  Ada Lovelace  ", "Ada Lovelace", ""},
		{"José Ñúñez", "José Ñúñez", ""},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), ""},
		{strings.Repeat("é", 101), "", "too_long"},
		{"", "", "required"},
		{" \t ", "", "required"},
		{"A\x00B", "", "invalid"},
		{"A\nB", "", "invalid"},
		{"A\u202eB", "", "invalid"},
		{"A\u2028B", "", "invalid"},
		{"A\xffB", "", "invalid"},
	} {
		got, ferr := normalizeName(tt.in)
		code := ""
		if ferr != nil {
			code = ferr.Code
		}
		if got != tt.want || code != tt.code {
			t.Errorf("normalizeName(%q) = %q, %q; want %q, %q", tt.in, got, code, tt.want, tt.code)
		}
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := newID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 || strings.Trim(id, crockford) != "" {
			t.Fatalf("id %q is not 26 base32 characters", id)
		}
		if id <= prev {
			t.Fatalf("id %q does not sort after %q", id, prev)
		}
		if seen[id] {
			t.Fatalf("id %q repeats", id)
		}
		seen[id], prev = true, id
	}
}

func TestTokens(t *testing.T) {
	a, ha := newToken()
	b, _ := newToken()
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/=") {
		t.Fatalf("tokens %q, %q: want distinct, 43 URL-safe characters", a, b)
	}
	if string(hashToken(a)) != string(ha) || len(ha) != 32 {
		t.Fatal("hashToken does not match the hash newToken returned")
	}
}
