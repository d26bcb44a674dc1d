package httpapi

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeJSON checks that the strict decoder never panics, and that what
// it accepts is one JSON object of known fields.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"A","email":"a@example.com","password":"x"}`,
		`{"name":"A"} {}`, `[]`, `null`, `{"role":"admin"}`, `{"name":"\u0000"}`, ` {"email":1}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req struct {
			Name     string `json:"name"`
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := decodeJSON(body, &req); err != nil {
			return
		}
		var generic map[string]any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatalf("accepted %q, which is not one JSON object: %v", body, err)
		}
		for k := range generic {
			// encoding/json matches keys case-insensitively; anything
			// else must have been refused as unknown.
			if !equalFold(k) {
				t.Fatalf("accepted unknown field %q in %q", k, body)
			}
		}
	})
}

func equalFold(k string) bool {
	for _, f := range []string{"name", "email", "password"} {
		if len(k) == len(f) && foldASCII(k) == f {
			return true
		}
	}
	return false
}

func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
