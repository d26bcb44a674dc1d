package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func mustTOTPCode(tb testing.TB, secret string, at time.Time) string {
	tb.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// TestMatchTOTPWindow: a code of the current step or one step either side
// is accepted, with its own step; two steps away, or malformed, is refused.
func TestMatchTOTPWindow(t *testing.T) {
	t.Parallel()
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: "a@example.com", SecretSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	secret := key.Secret()
	now := time.Unix(1_800_000_015, 0) // mid-step
	step := now.Unix() / totpPeriod
	for _, tt := range []struct {
		name  string
		shift int64 // steps from now
		want  bool
	}{
		{"two behind", -2, false},
		{"one behind", -1, true},
		{"current", 0, true},
		{"one ahead", 1, true},
		{"two ahead", 2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := mustTOTPCode(t, secret, time.Unix((step+tt.shift)*totpPeriod, 0))
			got, ok := matchTOTP(secret, code, now)
			if ok != tt.want {
				// A code two steps away may equal one inside the window by chance (1 in 10^6 per step).
				t.Fatalf("matchTOTP(step %+d) ok = %v, want %v", tt.shift, ok, tt.want)
			}
			if ok && got != step+tt.shift {
				t.Fatalf("matched step %d, want %d", got, step+tt.shift)
			}
		})
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "12 34 5x"} {
		if _, ok := matchTOTP(secret, bad, now); ok {
			t.Fatalf("matchTOTP(%q) accepted", bad)
		}
	}
	code := mustTOTPCode(t, secret, now)
	if _, ok := matchTOTP(secret, " "+code[:3]+" "+code[3:]+" ", now); !ok {
		t.Fatalf("a code with spaces was refused")
	}
}

// TestRecoveryCodes: 128 random bits each, hashed in a normalised form
// (case, dashes and spaces do not matter), distinct codes distinct hashes.
func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	a, b := newRecoveryCode(), newRecoveryCode()
	if a == b {
		t.Fatalf("two codes equal: %q", a)
	}
	if got := strings.ReplaceAll(a, "-", ""); len(got) != 32 {
		t.Fatalf("code %q has %d hex digits, want 32", a, len(got))
	}
	h := hashRecoveryCode(a)
	for _, typed := range []string{strings.ToUpper(a), strings.ReplaceAll(a, "-", ""), " " + strings.ReplaceAll(a, "-", " ") + " "} {
		if string(hashRecoveryCode(typed)) != string(h) {
			t.Fatalf("hash of %q differs from hash of %q", typed, a)
		}
	}
	if string(hashRecoveryCode(b)) == string(h) {
		t.Fatalf("two codes hash alike")
	}
}

// TestMFACodeAcceptedOnce runs the real workflows on a real database with
// an injected clock: the code that confirmed enrolment cannot sign in
// (same step), a later code can once, and of two concurrent sign-ins with
// one code exactly one wins.
func TestMFACodeAcceptedOnce(t *testing.T) {
	t.Parallel()
	svc, clk := newOAuthService(t)
	ctx := context.Background()
	const pw = "a long enough password 1"
	u, err := svc.CreateUser(ctx, NewUserInput{Email: "mfa@example.com", Name: "Mfa", Role: RoleUser, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	p := Principal{User: u, SessionID: "none"}
	setup, err := svc.BeginTOTP(ctx, p, pw, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(setup.OTPAuthURL, "otpauth://totp/") || !strings.HasPrefix(setup.QRCode, "data:image/png;base64,") {
		t.Fatalf("setup %q %.40q", setup.OTPAuthURL, setup.QRCode)
	}
	code := mustTOTPCode(t, setup.Secret, clk.now())
	codes, err := svc.ConfirmTOTP(ctx, p, code, Meta{})
	if err != nil || len(codes) != recoveryCodeCount {
		t.Fatalf("ConfirmTOTP: %d codes, %v", len(codes), err)
	}
	challenge := func() string {
		t.Helper()
		_, _, err := svc.Login(ctx, LoginInput{Email: u.Email, Password: pw}, Meta{})
		var m *MFARequired
		if !errors.As(err, &m) {
			t.Fatalf("Login: %v, want MFARequired", err)
		}
		return m.Token
	}
	tok := challenge()
	if _, _, err := svc.CompleteMFALogin(ctx, MFALoginInput{Token: tok, Code: code}, Meta{}); ErrorCode(err) != CodeInvalidCode {
		t.Fatalf("enrolment code replayed: %v, want %s", err, CodeInvalidCode)
	}
	clk.add(totpPeriod * time.Second)
	code = mustTOTPCode(t, setup.Secret, clk.now())
	toks := []string{tok, challenge()}
	var wg sync.WaitGroup
	errs := make([]error, len(toks))
	for i, tk := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = svc.CompleteMFALogin(ctx, MFALoginInput{Token: tk, Code: code}, Meta{})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch ErrorCode(err) {
		case "":
			wins++
		case CodeInvalidCode:
		default:
			t.Fatalf("concurrent sign-in: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("one code, two concurrent sign-ins: %d won (%v), want exactly 1", wins, errs)
	}
	// A recovery code works once.
	if _, _, err := svc.CompleteMFALogin(ctx, MFALoginInput{Token: challenge(), RecoveryCode: codes[0]}, Meta{}); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, _, err := svc.CompleteMFALogin(ctx, MFALoginInput{Token: challenge(), RecoveryCode: codes[0]}, Meta{}); ErrorCode(err) != CodeInvalidCode {
		t.Fatalf("recovery code reused: %v, want %s", err, CodeInvalidCode)
	}
	// The mfa token expires after 5 minutes.
	tok = challenge()
	clk.add(mfaTokenTTL + time.Second)
	code = mustTOTPCode(t, setup.Secret, clk.now())
	if _, _, err := svc.CompleteMFALogin(ctx, MFALoginInput{Token: tok, Code: code}, Meta{}); ErrorCode(err) != CodeInvalidToken {
		t.Fatalf("expired mfa token: %v, want %s", err, CodeInvalidToken)
	}
}
