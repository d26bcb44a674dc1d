package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nextsecure/nextsecure/service"
)

// decodeTarget has the shapes the strict decoder must walk: flat fields,
// an optional[T], a nested struct, a slice of structs, a map and an any.
type decodeTarget struct {
	Name     string           `json:"name"`
	Email    string           `json:"email"`
	Password string           `json:"password"`
	Image    optional[string] `json:"image"`
	Profile  *struct {
		City string `json:"city"`
	} `json:"profile"`
	Tags  []struct{ K string } `json:"tags"`
	Attrs map[string]string    `json:"attrs"`
	Extra any                  `json:"extra"`
	Skip  string               `json:"-"`
}

func TestDecodeJSON(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		ok         bool
	}{
		{"plain", `{"name":"A","email":"a@example.com","password":"x"}`, true},
		{"empty object", `{}`, true},
		{"whitespace around", " \n{\"name\":\"A\"}\t\n", true},
		{"escaped key", `{"pass\u0077ord":"x"}`, true},
		{"nested", `{"profile":{"city":"Oslo"},"tags":[{"K":"a"},{"K":"b"}],"attrs":{"a":"1","A":"2"}}`, true},
		{"optional null", `{"image":null}`, true},
		{"any with distinct keys", `{"extra":{"a":1,"A":[{"x":1},{"x":2}]}}`, true},

		{"duplicate key", `{"password":"a","password":"b"}`, false},
		{"duplicate by escape", `{"password":"a","pass\u0077ord":"b"}`, false},
		{"case-insensitive duplicate", `{"password":"a","PASSWORD":"b"}`, false},
		{"case-insensitive key", `{"Email":"a@example.com"}`, false},
		{"Kelvin sign folds to k", "{\"tags\":[{\"\u212a\":\"a\"}]}", false},
		{"long s folds to s", "{\"pa\u017fsword\":\"a\"}", false},
		{"nested duplicate", `{"profile":{"city":"a","city":"b"}}`, false},
		{"nested case", `{"profile":{"City":"a"}}`, false},
		{"duplicate in array element", `{"tags":[{"K":"a"},{"K":"a","K":"b"}]}`, false},
		{"wrong case in array element", `{"tags":[{"k":"a"}]}`, false},
		{"duplicate map key", `{"attrs":{"a":"1","a":"2"}}`, false},
		{"duplicate inside any", `{"extra":{"a":1,"a":2}}`, false},
		{"duplicate deep inside any", `{"extra":[[{"a":{"b":1,"b":1}}]]}`, false},
		{"ignored field", `{"Skip":"x"}`, false},
		{"unknown field", `{"role":"admin"}`, false},
		{"trailing data", `{"name":"A"} {}`, false},
		{"trailing garbage", `{"name":"A"}x`, false},
		{"not an object", `[]`, false},
		{"null", `null`, false},
		{"truncated", `{"name":`, false},
		{"wrong type", `{"name":1}`, false},
		{"empty", ``, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var v decodeTarget
			err := decodeJSON([]byte(tt.body), &v)
			if (err == nil) != tt.ok {
				t.Fatalf("got error %v for %s, want ok=%v", err, tt.body, tt.ok)
			}
			if err != nil && service.ErrorCode(err) != codeInvalidJSON {
				t.Errorf("got code %q, want %q", service.ErrorCode(err), codeInvalidJSON)
			}
		})
	}
}

// FuzzDecodeJSON checks that the strict decoder never panics, and that what
// it accepts is one JSON object with no duplicate key at any depth, every
// key of which is exactly a field name. The seed corpus is in
// testdata/fuzz/FuzzDecodeJSON.
func FuzzDecodeJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var req struct {
			Name     string `json:"name"`
			Email    string `json:"email"`
			Password string `json:"password"`
			Profile  struct {
				City string `json:"city"`
			} `json:"profile"`
			Tags []struct {
				K string `json:"k"`
			} `json:"tags"`
		}
		if err := decodeJSON(body, &req); err != nil {
			return
		}
		var generic map[string]any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatalf("accepted %q, which is not one JSON object: %v", body, err)
		}
		known := map[string]bool{"name": true, "email": true, "password": true, "profile": true, "city": true, "tags": true, "k": true}
		dec := json.NewDecoder(bytes.NewReader(body))
		// A stack of the objects being read: the keys each has so far,
		// and whether the next string token in it is a key.
		type frame struct {
			keys    map[string]bool
			isObj   bool
			wantKey bool
		}
		var stack []*frame
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			var top *frame
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			if top != nil && top.isObj && top.wantKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					continue
				}
				k := tok.(string)
				if !known[k] {
					t.Fatalf("accepted key %q, not exactly a field name, in %q", k, body)
				}
				if top.keys[k] {
					t.Fatalf("accepted duplicate key %q in %q", k, body)
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
			if top != nil && top.isObj {
				top.wantKey = true
			}
			switch tok {
			case json.Delim('{'):
				stack = append(stack, &frame{keys: map[string]bool{}, isObj: true, wantKey: true})
			case json.Delim('['):
				stack = append(stack, &frame{})
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
		}
	})
}

// BenchmarkDecodeJSON measures the strict decoder, key check included, on
// a registration body.
func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"name":"Ada Lovelace","email":"ada@example.com","password":"correct horse battery staple"}`)
	for b.Loop() {
		var req struct {
			Name     string `json:"name"`
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := decodeJSON(body, &req); err != nil {
			b.Fatal(err)
		}
	}
}
