package password

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// Policy limits. Passwords are never trimmed or normalized.
const (
	// MinLength is the minimum password length in characters (runes).
	MinLength = 8
	// MaxBytes is the maximum password length in bytes.
	MaxBytes = 1024
)

// Stable policy failure codes, safe to return to clients.
const (
	// CodeTooShort means fewer than MinLength characters.
	CodeTooShort = "too_short"
	// CodeTooLong means more than MaxBytes bytes.
	CodeTooLong = "too_long"
	// CodeTooCommon means among the most common passwords.
	CodeTooCommon = "too_common"
)

// commonCount is how many of the top-ranked common passwords are refused.
const commonCount = 10_000

// PolicyError describes why a password was refused.
type PolicyError struct {
	// Code is one of CodeTooShort, CodeTooLong or CodeTooCommon.
	Code string
	// Message is a human-readable explanation, safe to show to the user.
	Message string
}

// Error returns the message.
func (e *PolicyError) Error() string { return e.Message }

// Check reports whether password is acceptable as a new password: at least
// MinLength characters, at most MaxBytes bytes, and not among the 10,000 most
// common passwords (case-insensitively). There are no composition rules.
// A non-nil result is always a *PolicyError.
func Check(password string) error {
	switch {
	case len(password) > MaxBytes:
		return &PolicyError{CodeTooLong, fmt.Sprintf("Password must be at most %d bytes long.", MaxBytes)}
	case utf8.RuneCountInString(password) < MinLength:
		return &PolicyError{CodeTooShort, fmt.Sprintf("Password must be at least %d characters long.", MinLength)}
	case commonPasswords()[strings.ToLower(password)]:
		return &PolicyError{CodeTooCommon, "This password is too common. Please choose another one."}
	}
	return nil
}

// commonPasswords holds the top commonCount entries of zxcvbn's ranked
// (lowercase) password list that are long enough to pass the length check;
// shorter ones are refused as too short anyway.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	list := frequency.FrequencyLists["passwords"]
	list = list[:min(commonCount, len(list))]
	m := make(map[string]bool)
	for _, p := range list {
		if utf8.RuneCountInString(p) >= MinLength {
			m[p] = true
		}
	}
	return m
})
