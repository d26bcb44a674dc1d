package password_test

import (
	"errors"
	"strings"
	"testing"

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
		{"8 chars", "abcdefgh", ""},
		{"7 runes, 14 bytes", "äöüßéèê", password.CodeTooShort},
		{"8 runes, 16 bytes", "äöüßéèêë", ""},
		{"7 emoji, 28 bytes", strings.Repeat("🔑", 7), password.CodeTooShort},
		{"64 chars", strings.Repeat("x7Q!", 16), ""},
		{"1024 bytes", strings.Repeat("ab", 512), ""},
		{"1024 bytes multibyte", strings.Repeat("é", 512), ""},
		{"1025 bytes", strings.Repeat("a", 1025), password.CodeTooLong},
		{"1025 bytes multibyte", strings.Repeat("é", 512) + "a", password.CodeTooLong},
		{"password", "password", password.CodeTooCommon},
		{"12345678", "12345678", password.CodeTooCommon},
		{"Password", "Password", password.CodeTooCommon},
		{"PASSWORD", "PASSWORD", password.CodeTooCommon},
		{"iLoveYou", "iLoveYou", password.CodeTooCommon},
		{"rank 9999", "lizaveta", password.CodeTooCommon},
		{"rank 10002", "08154711", ""},
		{"passphrase", "plinth orbit marzipan quietly", ""},
		{"no composition rules", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ""},
		{"spaces kept", " abcdefgh ", ""},
		{"spaces count", " abcdef ", ""},
		{"spaces not trimmed before common check", " password ", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := password.Check(tt.password)
			if tt.wantCode == "" {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			var pe *password.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v, want *PolicyError", err)
			}
			if pe.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", pe.Code, tt.wantCode)
			}
			if pe.Message == "" || pe.Error() != pe.Message {
				t.Errorf("Message = %q, Error() = %q, want equal and non-empty", pe.Message, pe.Error())
			}
		})
	}
}
