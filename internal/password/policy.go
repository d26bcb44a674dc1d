package password

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
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
	// CodeTooCommon means among the most common passwords, or guessed
	// within MinGuesses by the zxcvbn estimate.
	CodeTooCommon = "too_common"
)

// commonCount is how many of the top-ranked common passwords are refused.
const commonCount = 10_000

// MinGuesses is the least number of guesses the zxcvbn estimate must need
// for a password to be accepted: a password found within the first million
// guesses (guesses_log10 < 6, zxcvbn's scores 0 to 2) is refused. That is
// the bar zxcvbn itself puts between "somewhat guessable" and "safely
// unguessable" for an online attack; an offline attack on an argon2id hash
// at this server's parameters gets far fewer guesses a second than the
// fast hashes zxcvbn's higher scores assume.
const MinGuesses = 1e6

// estimateRunes bounds the part of a password the zxcvbn estimate looks
// at: its first estimateRunes characters. zxcvbn's matching is
// superlinear (every substring against every dictionary, once per
// l33t-substitution table): on the reference machine (2 cores, under
// load), BenchmarkZxcvbnUnbounded took 13 ms for 32 random characters
// rich in l33t characters, 140 ms for 64, 2.6 s for 128 (and 10 s for
// 256), where BenchmarkHash takes 28 ms a hash; an unbounded estimate
// before the hash would let anyone spend seconds of CPU per request.
// With the bound, BenchmarkCheck takes 0.5-0.9 ms for 12 to 16
// characters and 8-18 ms for 32 and more, under the hash's cost.
//
// The cut does not let weak passwords through: zxcvbn adds 10^4 guesses
// for every further pattern, so a password under a million guesses is
// at most two patterns (a repeat, a sequence, a keyboard walk, a word and
// a number), and its first 32 characters are the same patterns, just as
// weak. It can refuse a long password whose first 32 characters are weak
// and whose rest is not ("password" eight times, then something
// strong), which is a password a user is better off changing anyway.
const estimateRunes = 32

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
// MinLength characters, at most MaxBytes bytes, not among the 10,000 most
// common passwords (case-insensitively), and needing at least MinGuesses
// guesses by a zxcvbn estimate that knows userInputs: what an attacker
// would try first for this user (their email address and name; Check
// adds the words in them, such as the email's local part). There are no
// composition rules. A non-nil result is always a *PolicyError.
func Check(password string, userInputs ...string) error {
	switch {
	case len(password) > MaxBytes:
		return &PolicyError{CodeTooLong, fmt.Sprintf("Password must be at most %d bytes long.", MaxBytes)}
	case utf8.RuneCountInString(password) < MinLength:
		return &PolicyError{CodeTooShort, fmt.Sprintf("Password must be at least %d characters long.", MinLength)}
	case commonPasswords()[strings.ToLower(password)] || Guesses(password, userInputs...) < MinGuesses:
		return &PolicyError{CodeTooCommon, "This password is too common. Please choose another one."}
	}
	return nil
}

// Guesses is zxcvbn's estimate of the number of guesses that find
// password, given userInputs (see Check), looking at its first
// estimateRunes characters only. Invalid UTF-8 is estimated with
// replacement characters in its place (zxcvbn would call it 0).
func Guesses(password string, userInputs ...string) float64 {
	password = strings.ToValidUTF8(password, "\uFFFD")
	n := 0
	for i := range password {
		if n == estimateRunes {
			password = password[:i]
			break
		}
		n++
	}
	return zxcvbn.PasswordStrength(password, expandInputs(userInputs)).Guesses
}

// expandInputs returns the inputs, lower-cased, with each word of three or
// more letters or digits in them and the words of each (of an email's
// local part) run together, so that "ann.lee@example.com" and "Ann Lee"
// also give "ann.lee", "ann", "lee", "example" and "annlee". Shorter words
// would match single characters of random passwords for little gain.
func expandInputs(inputs []string) []string {
	var out []string
	seen := make(map[string]bool)
	add := func(w string) {
		if utf8.RuneCountInString(w) >= 3 && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, in := range inputs {
		in = strings.ToLower(strings.TrimSpace(in))
		add(in)
		if local, _, ok := strings.Cut(in, "@"); ok {
			add(local)
		}
		words := strings.FieldsFunc(in, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})
		for _, w := range words {
			add(w)
		}
		if local, _, ok := strings.Cut(in, "@"); ok {
			words = strings.FieldsFunc(local, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r)
			})
		}
		add(strings.Join(words, "")) // "annlee" from "Ann Lee" and "ann.lee@…"
	}
	return out
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
