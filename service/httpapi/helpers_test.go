package httpapi_test

import (
	"testing"

	"github.com/nextsecure/nextsecure/internal/password"
)

// passwordMatches reports whether password verifies against hash.
func passwordMatches(t *testing.T, pw, hash string) bool {
	t.Helper()
	ok, _, err := password.Verify(pw, hash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
