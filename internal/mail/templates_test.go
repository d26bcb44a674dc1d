package mail

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTemplates(t *testing.T) {
	const (
		verifyLink  = "https://auth.example.com/verify-email?token=abc_DEF-123"
		resetLink   = "https://auth.example.com/reset-password?token=xyz_987"
		pageLink    = "https://auth.example.com/reset-password"
		magicLink   = "https://auth.example.com/magic-link?token=mag_IC-1"
		confirmLink = "https://auth.example.com/confirm-email?token=chg_2"
	)
	tests := []struct {
		name    string
		build   func() (Message, error)
		subject string
		want    []string // in both the text and the HTML body
		link    string   // in the text body and as an href; "" for none
	}{
		{
			name:    "VerifyEmail",
			build:   func() (Message, error) { return VerifyEmail(testTo, "Ann Lee", verifyLink, 24*time.Hour) },
			subject: "Confirm your email address",
			want:    []string{"Hi Ann Lee,", "expires in 24 hours", "ignore this email"},
			link:    verifyLink,
		},
		{
			name:    "ResetPassword",
			build:   func() (Message, error) { return ResetPassword(testTo, resetLink, 90*time.Minute) },
			subject: "Reset your password",
			want:    []string{"reset the password", "expires in 1 hour and 30 minutes", "ignore this email"},
			link:    resetLink,
		},
		{
			name:    "AccountExists",
			build:   func() (Message, error) { return AccountExists(testTo, pageLink) },
			subject: SubjectAccountExists,
			want:    []string{"already has an account", "If it was not you"},
			link:    pageLink,
		},
		{
			name:    "PasswordChanged",
			build:   func() (Message, error) { return PasswordChanged(testTo) },
			subject: "Your password was changed",
			want:    []string{"password of your Next Secure account was just changed", "reset your password"},
		},
		{
			name:    "MagicLink",
			build:   func() (Message, error) { return MagicLink(testTo, magicLink, 15*time.Minute) },
			subject: SubjectMagicLink,
			want:    []string{"link to sign in", "expires in 15 minutes and works once", "ignore this email"},
			link:    magicLink,
		},
		{
			name:    "ConfirmEmailChange",
			build:   func() (Message, error) { return ConfirmEmailChange(testTo, "Ann Lee", confirmLink, 24*time.Hour) },
			subject: SubjectConfirmEmail,
			want:    []string{"Hi Ann Lee,", "use this email address", "expires in 24 hours"},
			link:    confirmLink,
		},
		{
			name:    "EmailChangeRequested",
			build:   func() (Message, error) { return EmailChangeRequested(testTo, "new@example.com") },
			subject: SubjectEmailChangeAsk,
			want:    []string{"change its email address to", "new@example.com", "change your password"},
		},
		{
			name:    "EmailChanged",
			build:   func() (Message, error) { return EmailChanged(testTo, "new@example.com") },
			subject: SubjectEmailChanged,
			want:    []string{"was changed to", "new@example.com", "contact support"},
		},
		{
			name:    "EmailInUse",
			build:   func() (Message, error) { return EmailInUse(testTo, pageLink) },
			subject: SubjectEmailInUse,
			want:    []string{"already has an account", "nothing was changed"},
			link:    pageLink,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.build()
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if err := m.validate(); err != nil {
				t.Errorf("got invalid message: %v", err)
			}
			if m.To != testTo {
				t.Errorf("got To %q, want %q", m.To, testTo)
			}
			if m.Subject != tt.subject {
				t.Errorf("got Subject %q, want %q", m.Subject, tt.subject)
			}
			if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") || !strings.Contains(m.HTML, "<title>"+tt.subject+"</title>") {
				t.Errorf("got HTML without doctype or title:\n%s", m.HTML)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text body lacks %q:\n%s", w, m.Text)
				}
				if !strings.Contains(m.HTML, w) {
					t.Errorf("HTML body lacks %q:\n%s", w, m.HTML)
				}
			}
			if tt.link != "" {
				if !strings.Contains(m.Text, "\n"+tt.link+"\n") {
					t.Errorf("text body lacks %q on a line of its own:\n%s", tt.link, m.Text)
				}
				if !strings.Contains(m.HTML, `href="`+tt.link+`"`) {
					t.Errorf("HTML body lacks href=%q:\n%s", tt.link, m.HTML)
				}
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	const link = "https://auth.example.com/verify-email?token=abc"
	tests := []struct {
		name  string
		build func() (Message, error)
	}{
		{"bad recipient", func() (Message, error) { return VerifyEmail("Evil <a@b.com>", "Ann", link, time.Hour) }},
		{"injected recipient", func() (Message, error) { return PasswordChanged("a@b.com\r\nBcc: evil@x.com") }},
		{"javascript link", func() (Message, error) { return VerifyEmail(testTo, "Ann", "javascript:alert(1)", time.Hour) }},
		{"relative link", func() (Message, error) { return ResetPassword(testTo, "/reset-password?token=x", time.Hour) }},
		{"link without host", func() (Message, error) { return AccountExists(testTo, "https:///reset-password") }},
		{"link with space", func() (Message, error) { return AccountExists(testTo, "https://x.example/a b") }},
		{"zero expiry", func() (Message, error) { return ResetPassword(testTo, link, 0) }},
		{"negative expiry", func() (Message, error) { return VerifyEmail(testTo, "Ann", link, -time.Hour) }},
		{"sub-second expiry", func() (Message, error) { return VerifyEmail(testTo, "Ann", link, 999*time.Millisecond) }},
		{"magic link zero expiry", func() (Message, error) { return MagicLink(testTo, link, 0) }},
		{"magic relative link", func() (Message, error) { return MagicLink(testTo, "/magic-link?token=x", time.Hour) }},
		{"injected new address", func() (Message, error) { return EmailChanged(testTo, "a@b.com\r\nBcc: evil@x.com") }},
		{"new address with name", func() (Message, error) { return EmailChangeRequested(testTo, "Evil <a@b.com>") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.build(); err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}

func TestTemplateRecipientErrorIsInvalidMessage(t *testing.T) {
	_, err := PasswordChanged("a@b.com, c@d.com")
	if !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("got error %v, want ErrInvalidMessage", err)
	}
}

func TestVerifyEmailEscapesName(t *testing.T) {
	tests := []struct {
		name, wantText, wantHTML string
	}{
		{"<script>alert(1)</script>", "Hi <script>alert(1)</script>,", "Hi &lt;script&gt;alert(1)&lt;/script&gt;,"},
		{`Tom & "Jerry"`, `Hi Tom & "Jerry",`, "Hi Tom &amp; &#34;Jerry&#34;,"},
		{"{{.Link}}", "Hi {{.Link}},", "Hi {{.Link}},"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := VerifyEmail(testTo, tt.name, "https://x.example/verify-email?token=t", time.Hour)
			if err != nil {
				t.Fatalf("VerifyEmail: %v", err)
			}
			if !strings.Contains(m.Text, tt.wantText) {
				t.Errorf("text body lacks %q:\n%s", tt.wantText, m.Text)
			}
			if !strings.Contains(m.HTML, tt.wantHTML) {
				t.Errorf("HTML body lacks %q:\n%s", tt.wantHTML, m.HTML)
			}
		})
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann", "Ann"},
		{"  Ann \t Lee  ", "Ann Lee"},
		{"Ann\r\nBcc: evil@x.com", "Ann Bcc: evil@x.com"},
		{"Ann\x00\x1b[31m", "Ann[31m"},
		{"Ann\u202eeeL", "AnneeL"},
		{"Zoë 张", "Zoë 张"},
		{"\xff\xfe", "there"},
		{"", "there"},
		{" \n ", "there"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("é", 65), strings.Repeat("é", 64) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := displayName(tt.in); got != tt.want {
				t.Errorf("got displayName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestShortExpiry is the case behind issue 9: a token lifetime under a
// minute (VERIFY_TOKEN_TTL=30s) made every message fail to render.
func TestShortExpiry(t *testing.T) {
	const link = "https://auth.example.com/verify-email?token=abc"
	for _, tt := range []struct {
		name  string
		build func() (Message, error)
		want  string
	}{
		{"verify 30s", func() (Message, error) { return VerifyEmail(testTo, "Ann", link, 30*time.Second) }, "expires in 30 seconds."},
		{"reset 1s", func() (Message, error) { return ResetPassword(testTo, link, time.Second) }, "expires in 1 second."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.build()
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !strings.Contains(m.Text, tt.want) || !strings.Contains(m.HTML, tt.want) {
				t.Errorf("got text %q, want it to contain %q in both bodies", m.Text, tt.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{time.Second, "1 second"},
		{1500 * time.Millisecond, "1 second"},
		{5 * time.Second, "5 seconds"},
		{30 * time.Second, "30 seconds"},
		{59*time.Second + 999*time.Millisecond, "59 seconds"},
		{time.Minute, "1 minute"},
		{90 * time.Second, "1 minute and 30 seconds"},
		{2*time.Minute + time.Second, "2 minutes and 1 second"},
		{15 * time.Minute, "15 minutes"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1 hour and 30 minutes"},
		{61*time.Minute + 59*time.Second, "1 hour and 1 minute"},
		{24 * time.Hour, "24 hours"},
		{48 * time.Hour, "2 days"},
		{49 * time.Hour, "49 hours"},
		{7 * 24 * time.Hour, "7 days"},
		{24*time.Hour + 30*time.Second, "24 hours"},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			if got := humanDuration(tt.in); got != tt.want {
				t.Errorf("got humanDuration(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
