package smtptest

import (
	"crypto/tls"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const waitTimeout = 10 * time.Second

// send delivers data to s with a plain go-smtp client, authenticating
// first when user is not empty. It is safe to call from any goroutine.
func send(s *Server, user, password, from string, to []string, data string) error {
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, to, strings.NewReader(data)); err != nil {
		return err
	}
	return c.Quit()
}

// crlf turns "\n" line ends into "\r\n".
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestMessageParsing(t *testing.T) {
	const link = "https://example.com/verify-email?token=abc=def&x=1-this-is-a-long-token-to-force-a-soft-line-break-0123456789"
	tests := []struct {
		name    string
		data    string
		subject string
		text    string
		html    string
	}{
		{
			name:    "plain without Content-Type",
			data:    "Subject: Hi\n\nHello\nthere\n",
			subject: "Hi",
			text:    "Hello\nthere\n",
		},
		{
			name: "alternative, quoted-printable and base64",
			data: "Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?=\n" +
				"MIME-Version: 1.0\n" +
				"Content-Type: multipart/alternative; boundary=BOUND\n\n" +
				"--BOUND\n" +
				"Content-Type: text/plain; charset=UTF-8\n" +
				"Content-Transfer-Encoding: quoted-printable\n\n" +
				"Open https://example.com/verify-email?token=3Dabc=3Ddef&x=3D1-this-is-a-lo=\n" +
				"ng-token-to-force-a-soft-line-break-0123456789 now.\n" +
				"--BOUND\n" +
				"Content-Type: text/html; charset=UTF-8\n" +
				"Content-Transfer-Encoding: base64\n\n" +
				"PHA+SGk8L3A+\n" +
				"--BOUND--\n",
			subject: "Grüße",
			text:    "Open " + link + " now.",
			html:    "<p>Hi</p>",
		},
		{
			name: "alternative nested in mixed",
			data: "Subject: Nested\n" +
				"Content-Type: multipart/mixed; boundary=OUTER\n\n" +
				"--OUTER\n" +
				"Content-Type: multipart/alternative; boundary=INNER\n\n" +
				"--INNER\n" +
				"Content-Type: text/plain\n\n" +
				"text\n" +
				"--INNER\n" +
				"Content-Type: text/html\n\n" +
				"<b>html</b>\n" +
				"--INNER--\n" +
				"--OUTER\n" +
				"Content-Type: text/plain\n" +
				"Content-Disposition: attachment; filename=a.txt\n\n" +
				"attachment\n" +
				"--OUTER--\n",
			subject: "Nested",
			text:    "text",
			html:    "<b>html</b>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Start(t)
			if err := send(s, "", "", "from@example.com", []string{"to@example.com"}, crlf(tt.data)); err != nil {
				t.Fatalf("send: %v", err)
			}
			m := s.WaitFor(t, 1, waitTimeout)[0]
			if m.ParseErr != nil {
				t.Fatalf("ParseErr: %v", m.ParseErr)
			}
			if m.Subject != tt.subject {
				t.Errorf("got Subject %q, want %q", m.Subject, tt.subject)
			}
			if m.Text != tt.text {
				t.Errorf("got Text %q, want %q", m.Text, tt.text)
			}
			if m.HTML != tt.html {
				t.Errorf("got HTML %q, want %q", m.HTML, tt.html)
			}
		})
	}
}

func TestEnvelopeAndLink(t *testing.T) {
	s := Start(t)
	to := []string{"a@example.com", "b@example.com"}
	data := crlf("Subject: Link\n\nGo to https://example.com/reset?token=xyz.\nOr https://other.example/\n")
	if err := send(s, "anyone", "anything", "from@example.com", to, data); err != nil {
		t.Fatalf("send: %v", err)
	}
	m := s.WaitFor(t, 1, waitTimeout)[0]
	if m.From != "from@example.com" {
		t.Errorf("got From %q, want %q", m.From, "from@example.com")
	}
	if !slices.Equal(m.To, to) {
		t.Errorf("got To %q, want %q", m.To, to)
	}
	if got, want := string(m.Data), data; got != want {
		t.Errorf("got Data %q, want %q", got, want)
	}

	links := []struct{ prefix, want string }{
		{"https://example.com/reset", "https://example.com/reset?token=xyz"},
		{"https://other.example", "https://other.example/"},
		{"https://missing.example", ""},
		{"", ""},
	}
	for _, tt := range links {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := m.FindLink(tt.prefix); got != tt.want {
				t.Errorf("got FindLink(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	s := Start(t)
	tests := []struct {
		name, user, password string
	}{
		{"default", "", ""},
		{"required", "u@x", "p:ss/w rd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantUser, wantPassword := tt.user, tt.password
			if tt.user != "" {
				s.RequireAuth(tt.user, tt.password)
			} else {
				wantUser, wantPassword = "user", "pass"
			}
			u, err := url.Parse(s.URL())
			if err != nil {
				t.Fatalf("parse %q: %v", s.URL(), err)
			}
			password, _ := u.User.Password()
			if u.Scheme != "smtp" || u.Host != s.Addr() || u.User.Username() != wantUser || password != wantPassword {
				t.Errorf("got URL %q, want smtp://%s:%s@%s", s.URL(), wantUser, wantPassword, s.Addr())
			}
		})
	}
}

func TestRequireAuth(t *testing.T) {
	s := Start(t)
	s.RequireAuth("alice", "secret")
	tests := []struct {
		name, user, password string
		wantCode             int // 0 means delivered
	}{
		{"no auth", "", "", 502},
		{"wrong password", "alice", "wrong", 535},
		{"right credentials", "alice", "secret", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := send(s, tt.user, tt.password, "from@example.com", []string{"to@example.com"}, "Subject: x\r\n\r\nx\r\n")
			var smtpErr *smtp.SMTPError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantCode != 0 && !errors.As(err, &smtpErr):
				t.Errorf("got error %v, want SMTP error %d", err, tt.wantCode)
			case tt.wantCode != 0 && smtpErr.Code != tt.wantCode:
				t.Errorf("got code %d, want %d", smtpErr.Code, tt.wantCode)
			}
		})
	}
	if got := len(s.Messages()); got != 1 {
		t.Errorf("got %d messages, want 1", got)
	}
}

func TestSetDown(t *testing.T) {
	s := Start(t)
	data := "Subject: x\r\n\r\nx\r\n"

	s.SetDown(true)
	err := send(s, "", "", "from@example.com", []string{"to@example.com"}, data)
	var smtpErr *smtp.SMTPError
	if !errors.As(err, &smtpErr) || smtpErr.Code != 451 {
		t.Fatalf("got error %v while down, want SMTP error 451", err)
	}
	if got := len(s.Messages()); got != 0 {
		t.Fatalf("got %d messages while down, want 0", got)
	}

	s.SetDown(false)
	if err := send(s, "", "", "from@example.com", []string{"to@example.com"}, data); err != nil {
		t.Fatalf("got error %v after recovery, want none", err)
	}
	if got := len(s.WaitFor(t, 1, waitTimeout)); got != 1 {
		t.Errorf("got %d messages after recovery, want 1", got)
	}
}

func TestWaitForConcurrentSends(t *testing.T) {
	s := Start(t)
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			errs <- send(s, "", "", "from@example.com", []string{"to@example.com"}, "Subject: x\r\n\r\nx\r\n")
		}()
	}
	msgs := s.WaitFor(t, n, waitTimeout)
	if len(msgs) != n {
		t.Errorf("got %d messages, want %d", len(msgs), n)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("send: %v", err)
		}
	}
}

func TestTLSModes(t *testing.T) {
	tests := []struct {
		name    string
		mode    TLSMode
		scheme  string
		wantTLS bool
	}{
		{"none", TLSNone, "smtp", false},
		{"starttls", TLSStartTLS, "smtp", true},
		{"implicit", TLSImplicit, "smtps", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := StartTLS(t, tt.mode)
			if got := strings.SplitN(s.URL(), ":", 2)[0]; got != tt.scheme {
				t.Errorf("got URL scheme %q, want %q", got, tt.scheme)
			}
			if got := s.RootCAs() != nil; got != tt.wantTLS {
				t.Errorf("got RootCAs set %v, want %v", got, tt.wantTLS)
			}

			cfg := &tls.Config{RootCAs: s.RootCAs(), ServerName: "127.0.0.1"}
			var c *smtp.Client
			var err error
			switch tt.mode {
			case TLSNone:
				c, err = smtp.Dial(s.Addr())
			case TLSStartTLS:
				c, err = smtp.DialStartTLS(s.Addr(), cfg)
			case TLSImplicit:
				c, err = smtp.DialTLS(s.Addr(), cfg)
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if err := c.Auth(sasl.NewPlainClient("", "bob", "pw")); err != nil {
				t.Fatalf("auth: %v", err)
			}
			if err := c.SendMail("from@example.com", []string{"to@example.com"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
				t.Fatalf("send: %v", err)
			}
			m := s.WaitFor(t, 1, waitTimeout)[0]
			if m.TLS != tt.wantTLS {
				t.Errorf("got TLS %v, want %v", m.TLS, tt.wantTLS)
			}
			if m.User != "bob" {
				t.Errorf("got User %q, want %q", m.User, "bob")
			}
		})
	}
}
