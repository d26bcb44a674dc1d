package service

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/password"
)

// Limits from the contract.
const (
	maxEmailLen = 254
	maxNameLen  = 100
	maxImageLen = 2048
)

// NormalizeEmail trims s and returns it in lower case if it is a single plain
// address (local@domain, no display name, comments or quoting) of at most
// 254 characters; ok is false otherwise. Emails are compared in this form
// everywhere, so Alice@Example.com and alice@example.com are one account.
func NormalizeEmail(s string) (email string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailLen {
		return "", false
	}
	local, domain, found := strings.Cut(s, "@")
	if !found || !validLocal(local) || !validDomain(domain) {
		return "", false
	}
	return strings.ToLower(s), true
}

// validLocal accepts an RFC 5321 dot-atom local part of at most 64 characters.
func validLocal(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", rune(c)) {
			return false
		}
	}
	return true
}

// validDomain accepts a host name of two or more LDH labels.
func validDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// normalizeName trims s and checks it is 1 to 100 characters of valid UTF-8
// with no control or format characters (no NULs, line breaks or bidi overrides).
func normalizeName(s string) (string, *FieldError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &FieldError{Field: "name", Code: "required", Message: "Enter your name."}
	}
	if utf8.RuneCountInString(s) > maxNameLen {
		return "", &FieldError{Field: "name", Code: "too_long", Message: "Use at most 100 characters."}
	}
	if !printable(s) {
		return "", &FieldError{Field: "name", Code: "invalid", Message: "Use printable characters only."}
	}
	return s, nil
}

// printable reports whether s is valid UTF-8 without control, format or
// unassigned-surrogate characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
			r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// emailField validates an email field.
func emailField(s string) (string, *FieldError) {
	email, ok := NormalizeEmail(s)
	if !ok {
		return "", &FieldError{Field: "email", Code: "invalid", Message: "Enter a valid email address."}
	}
	return email, nil
}

// passwordField applies the password policy to a field. userInputs are
// what an attacker knows of the user (their email and name): a password
// guessed easily from them is refused (password.Check).
func passwordField(field, pw string, userInputs ...string) *FieldError {
	var perr *password.PolicyError
	if errors.As(password.Check(pw, userInputs...), &perr) {
		return &FieldError{Field: field, Code: perr.Code, Message: perr.Message}
	}
	return nil
}

// userInputs lists a user's email and name for passwordField.
func userInputs(email string, name *string) []string {
	if name == nil {
		return []string{email}
	}
	return []string{email, *name}
}

// resetUserInputs returns the userInputs of the user a live reset token
// belongs to, read without consuming the token, so that ResetPassword can
// check the new password against them before it hashes; nil for a token
// that is not live (ResetPassword refuses it later).
// Errors: CodeUnavailable.
func (s *Service) resetUserInputs(ctx context.Context, token string) ([]string, error) {
	if token == "" || len(token) > 128 {
		return nil, nil
	}
	u, err := s.q.GetTokenUser(ctx, db.GetTokenUserParams{
		TokenHash: hashTokenHex(token), Purpose: purposeResetPassword, Now: s.now(),
	})
	if err != nil {
		if err = translate(err); ErrorCode(err) == CodeNotFound {
			return nil, nil
		}
		return nil, err
	}
	return userInputs(u.Email, u.Name), nil
}

// validation gathers field errors into one CodeValidation error, or nil.
func validation(errs ...*FieldError) error {
	var fields []FieldError
	for _, e := range errs {
		if e != nil {
			fields = append(fields, *e)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: CodeValidation, Message: "Some fields are invalid.", Fields: fields}
}
