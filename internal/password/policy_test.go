package password_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/trustelem/zxcvbn"

	"github.com/nextsecure/nextsecure/internal/password"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name     string
		password string
		wantCode string // "" means accepted
	}{
		{"empty", "", password.CodeTooShort},
		{"7 chars", "abcdefg", password.CodeTooShort},
		{"8 chars", "k3#pV9!q", ""},
		{"7 runes, 14 bytes", "äöüßéèê", password.CodeTooShort},
		{"8 runes, 16 bytes", "äöüßéèêë", ""},
		{"7 emoji, 28 bytes", strings.Repeat("🔑", 7), password.CodeTooShort},
		{"64 chars", strings.Repeat("x7Q!mz3#Lp9wRt5&", 4), ""},
		{"1024 bytes", strings.Repeat("x7Q!mz3#Lp9wRt5&", 64), ""},
		{"1024 bytes multibyte", strings.Repeat("é", 512), ""},
		{"1025 bytes", strings.Repeat("a", 1025), password.CodeTooLong},
		{"1025 bytes multibyte", strings.Repeat("é", 512) + "a", password.CodeTooLong},
		{"password", "password", password.CodeTooCommon},
		{"12345678", "12345678", password.CodeTooCommon},
		{"Password", "Password", password.CodeTooCommon},
		{"PASSWORD", "PASSWORD", password.CodeTooCommon},
		{"iLoveYou", "iLoveYou", password.CodeTooCommon},
		{"rank 9999", "lizaveta", password.CodeTooCommon},
		{"rank 10002, found by zxcvbn", "08154711", password.CodeTooCommon},
		{"passphrase", "plinth orbit marzipan quietly", ""},
		{"no composition rules", "plinth orbit marzipan quietly", ""},
		{"all lower case letters", "vqmtzrkwpl", ""},
		{"all digits, random", "73019482645", ""},
		{"spaces kept", " a9Qx&mLz ", ""},
		{"spaces count", " k3#pV9 ", ""},
		{"spaces not trimmed before common check", " password ", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := password.Check(tt.password)
			checkCode(t, err, tt.wantCode)
		})
	}
}

// TestCheckStrength covers the zxcvbn estimate: anything guessed within a
// million guesses is too_common, the user's own email and name included.
func TestCheckStrength(t *testing.T) {
	inputs := []string{"ann.lee@example.com", "Ann Lee"}
	for _, tt := range []struct {
		name     string
		password string
		wantCode string // "" means accepted
	}{
		{"password1234", "password1234", password.CodeTooCommon},
		{"Password1234!", "Password1234!", password.CodeTooCommon},
		{"p@ssw0rd2024", "p@ssw0rd2024", password.CodeTooCommon},
		{"iloveyou2", "iloveyou2", password.CodeTooCommon},
		{"qwertyuiop", "qwertyuiop", password.CodeTooCommon},
		{"keyboard walk", "1qaz2wsx3edc", password.CodeTooCommon},
		{"sequence", "abcdefghijk", password.CodeTooCommon},
		{"repeat", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", password.CodeTooCommon},
		{"long repeat", strings.Repeat("password", 100), password.CodeTooCommon},
		{"date", "19841225", password.CodeTooCommon},
		{"word and year", "dragon1984", password.CodeTooCommon},
		{"own email", "ann.lee@example.com", password.CodeTooCommon},
		{"own email's local part", "annlee1984", password.CodeTooCommon},
		{"own name and a year", "AnnLee1984", password.CodeTooCommon},
		{"own name run together", "annlee2024", password.CodeTooCommon},
		{"domain word", "example123", password.CodeTooCommon},
		{"correct horse battery staple", "correct horse battery staple", ""},
		{"passphrase", "plinth orbit marzipan quietly", ""},
		{"random 12", "x7Q!mz3#Lp9w", ""},
		{"random 8", "k3#pV9!q", ""},
		{"long random", strings.Repeat("x7Q!mz3#Lp9wRt5&", 60), ""},
		{"strong start, weak rest", "correct horse battery staple" + strings.Repeat("a", 500), ""},
		{"multibyte", "Zwölf Boxkämpfer jagen Viktor", ""},
		{"invalid UTF-8", "k3#pV9!q\xff\xfe", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkCode(t, password.Check(tt.password, inputs...), tt.wantCode)
		})
	}
	// The user's details are what make these weak: without them they pass.
	for _, pw := range []string{"AnnLee1984", "annlee2024", "ann.lee@example.com"} {
		if err := password.Check(pw); err != nil {
			t.Errorf("got Check(%q) without user inputs = %v, want nil", pw, err)
		}
	}
}

// BenchmarkCheck measures the policy on inputs of growing length, random
// characters rich in l33t substitutions (zxcvbn's slowest case).
func BenchmarkCheck(b *testing.B) {
	const chars = "a4@b8c({[<e3g69i1!|l7o0s$5t+x%z2qwryuphjkmnvQWRTYUPHJKMNV"
	inputs := []string{"ann.lee@example.com", "Ann Lee"}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{12, 16, 32, 64, 1024} {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = chars[r.IntN(len(chars))]
		}
		pw := string(buf)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				password.Check(pw, inputs...)
			}
		})
	}
}

// BenchmarkZxcvbnUnbounded is zxcvbn without Check's bound on the length
// it estimates, for comparison (see estimateRunes).
func BenchmarkZxcvbnUnbounded(b *testing.B) {
	const chars = "a4@b8c({[<e3g69i1!|l7o0s$5t+x%z2qwryuphjkmnvQWRTYUPHJKMNV"
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{32, 64, 128} { // 256: 10 s an estimate
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = chars[r.IntN(len(chars))]
		}
		pw := string(buf)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				zxcvbn.PasswordStrength(pw, []string{"ann.lee@example.com", "Ann Lee"})
			}
		})
	}
}

func checkCode(t *testing.T, err error, wantCode string) {
	t.Helper()
	{
		{
			if wantCode == "" {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			var pe *password.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v, want *PolicyError", err)
			}
			if pe.Code != wantCode {
				t.Errorf("Code = %q, want %q", pe.Code, wantCode)
			}
			if pe.Message == "" || pe.Error() != pe.Message {
				t.Errorf("Message = %q, Error() = %q, want equal and non-empty", pe.Message, pe.Error())
			}
		}
	}
}
