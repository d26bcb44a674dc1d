package mail

import (
	"context"
	"errors"
	"io"
	"net"
	netmail "net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	gomailsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/nextsecure/nextsecure/internal/smtptest"
)

const (
	testFrom    = "Next Secure <no-reply@localhost>"
	testTo      = "ann@example.com"
	waitTimeout = 10 * time.Second
	// A long token with '=' so that quoted-printable both escapes it and
	// breaks the line it is on.
	testLink = "http://localhost:8080/verify-email?token=" +
		"abc=def-0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789=="
)

// newSender returns a sender to srv that trusts its certificate.
func newSender(tb testing.TB, srv *smtptest.Server) *SMTPSender {
	tb.Helper()
	s, err := NewSMTP(srv.URL(), testFrom)
	if err != nil {
		tb.Fatalf("NewSMTP(%q): %v", srv.URL(), err)
	}
	s.rootCAs = srv.RootCAs()
	return s
}

// verifyMessage returns a VerifyEmail message to to.
func verifyMessage(tb testing.TB, to string) Message {
	tb.Helper()
	m, err := VerifyEmail(to, "Ann", testLink, 24*time.Hour)
	if err != nil {
		tb.Fatalf("VerifyEmail: %v", err)
	}
	return m
}

func TestSMTPSend(t *testing.T) {
	tests := []struct {
		name    string
		mode    smtptest.TLSMode
		wantTLS bool
	}{
		{"plaintext loopback", smtptest.TLSNone, false},
		{"starttls", smtptest.TLSStartTLS, true},
		{"implicit tls", smtptest.TLSImplicit, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartTLS(t, tt.mode)
			// Percent-encoded in the URL; the server checks the decoded form.
			srv.RequireAuth("ann@example.com", "p:ss w/rd@%")
			if err := newSender(t, srv).Send(t.Context(), verifyMessage(t, testTo)); err != nil {
				t.Fatalf("Send: %v", err)
			}

			m := srv.WaitFor(t, 1, waitTimeout)[0]
			if m.ParseErr != nil {
				t.Fatalf("parse delivered message: %v", m.ParseErr)
			}
			if m.TLS != tt.wantTLS {
				t.Errorf("got TLS %v, want %v", m.TLS, tt.wantTLS)
			}
			if m.User != "ann@example.com" {
				t.Errorf("got AUTH user %q, want %q", m.User, "ann@example.com")
			}
			if m.From != "no-reply@localhost" {
				t.Errorf("got envelope from %q, want %q", m.From, "no-reply@localhost")
			}
			if !slices.Equal(m.To, []string{testTo}) {
				t.Errorf("got envelope to %q, want [%q]", m.To, testTo)
			}
			from, err := netmail.ParseAddress(m.Header.Get("From"))
			if err != nil || from.Name != "Next Secure" || from.Address != "no-reply@localhost" {
				t.Errorf("got From %q (%v), want %q", m.Header.Get("From"), err, testFrom)
			}
			if got := m.Header.Get("To"); got != "<"+testTo+">" && got != testTo {
				t.Errorf("got To %q, want %q", got, testTo)
			}
			if m.Subject != SubjectVerifyEmail {
				t.Errorf("got Subject %q, want %q", m.Subject, SubjectVerifyEmail)
			}
			if _, err := m.Header.Date(); err != nil {
				t.Errorf("got Date %q: %v", m.Header.Get("Date"), err)
			}
			if got := m.Header.Get("Message-Id"); !strings.HasPrefix(got, "<") || !strings.HasSuffix(got, "@localhost>") {
				t.Errorf("got Message-ID %q, want <...@localhost>", got)
			}
			if got := m.FindLink("http://localhost:8080/verify-email?token="); got != testLink {
				t.Errorf("got text link %q, want %q", got, testLink)
			}
			if !strings.Contains(m.HTML, `href="`+testLink+`"`) {
				t.Errorf("HTML body lacks href=%q:\n%s", testLink, m.HTML)
			}
			if !strings.Contains(m.Text, "Hi Ann,") || !strings.Contains(m.HTML, "Hi Ann,") {
				t.Errorf("got bodies without greeting:\n%s\n%s", m.Text, m.HTML)
			}
		})
	}
}

func TestSMTPOutageAndRecovery(t *testing.T) {
	srv := smtptest.Start(t)
	sender := newSender(t, srv)
	msg := verifyMessage(t, testTo)

	srv.SetDown(true)
	err := sender.Send(t.Context(), msg)
	if err == nil {
		t.Fatal("got no error while the server is down, want one")
	}
	if errors.Is(err, ErrInvalidMessage) {
		t.Errorf("got error %v wrapping ErrInvalidMessage, want a temporary error", err)
	}
	if got := len(srv.Messages()); got != 0 {
		t.Fatalf("got %d messages while down, want 0", got)
	}

	srv.SetDown(false)
	if err := sender.Send(t.Context(), msg); err != nil {
		t.Fatalf("got error %v after recovery, want none", err)
	}
	if got := len(srv.WaitFor(t, 1, waitTimeout)); got != 1 {
		t.Errorf("got %d messages after recovery, want 1", got)
	}
}

func TestSMTPAuthFailure(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RequireAuth("ann", "right")
	sender, err := NewSMTP(strings.Replace(srv.URL(), ":right@", ":wrong@", 1), testFrom)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	if err := sender.Send(t.Context(), verifyMessage(t, testTo)); err == nil {
		t.Error("got no error with a wrong password, want one")
	}
	if got := len(srv.Messages()); got != 0 {
		t.Errorf("got %d messages, want 0", got)
	}
}

func TestSMTPRefusesInvalidMessages(t *testing.T) {
	srv := smtptest.Start(t)
	sender := newSender(t, srv)
	valid := Message{To: testTo, Subject: "Hello", Text: "text", HTML: "<p>html</p>"}

	tests := []struct {
		name   string
		modify func(*Message)
	}{
		{"CRLF header in To", func(m *Message) { m.To = "a@b.com\r\nBcc: evil@x.com" }},
		{"LF header in To", func(m *Message) { m.To = "a@b.com\nBcc: evil@x.com" }},
		{"NUL in To", func(m *Message) { m.To = "a@b.com\x00" }},
		{"two recipients", func(m *Message) { m.To = "a@b.com, c@d.com" }},
		{"display name", func(m *Message) { m.To = "Evil <a@b.com>" }},
		{"angle brackets", func(m *Message) { m.To = "<a@b.com>" }},
		{"surrounding space", func(m *Message) { m.To = " a@b.com" }},
		{"comment", func(m *Message) { m.To = "a@b.com (x)" }},
		{"not an address", func(m *Message) { m.To = "a.b.com" }},
		{"empty To", func(m *Message) { m.To = "" }},
		{"CRLF header in Subject", func(m *Message) { m.Subject = "Hi\r\nBcc: evil@x.com" }},
		{"LF in Subject", func(m *Message) { m.Subject = "Hi\nthere" }},
		{"empty Subject", func(m *Message) { m.Subject = "" }},
		{"empty Text", func(m *Message) { m.Text = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid
			tt.modify(&m)
			if err := sender.Send(t.Context(), m); !errors.Is(err, ErrInvalidMessage) {
				t.Errorf("got error %v, want ErrInvalidMessage", err)
			}
		})
	}

	// The server records a message before acknowledging it, so had any
	// of the sends above got through, it would be listed first.
	if err := sender.Send(t.Context(), valid); err != nil {
		t.Fatalf("Send(valid): %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	if !slices.Equal(msgs[0].To, []string{testTo}) {
		t.Errorf("got envelope to %q, want [%q]", msgs[0].To, testTo)
	}
}

func TestSMTPUserNameCannotInject(t *testing.T) {
	srv := smtptest.Start(t)
	const name = "<script>alert(1)</script>\r\nBcc: evil@x.com"
	m, err := VerifyEmail(testTo, name, testLink, time.Hour)
	if err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	if err := newSender(t, srv).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	got := srv.WaitFor(t, 1, waitTimeout)[0]
	if strings.Contains(got.HTML, "<script>") {
		t.Errorf("HTML body holds an unescaped <script>:\n%s", got.HTML)
	}
	if want := "Hi &lt;script&gt;alert(1)&lt;/script&gt; Bcc: evil@x.com,"; !strings.Contains(got.HTML, want) {
		t.Errorf("HTML body lacks %q:\n%s", want, got.HTML)
	}
	if bcc := got.Header.Get("Bcc"); bcc != "" {
		t.Errorf("got Bcc header %q, want none", bcc)
	}
	if !slices.Equal(got.To, []string{testTo}) {
		t.Errorf("got envelope to %q, want [%q]", got.To, testTo)
	}
}

func TestSMTPSendContextDone(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		srv := smtptest.Start(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := newSender(t, srv).Send(ctx, verifyMessage(t, testTo)); !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
		if got := len(srv.Messages()); got != 0 {
			t.Errorf("got %d messages, want 0", got)
		}
	})

	t.Run("cancelled while the server stalls", func(t *testing.T) {
		// The server answers up to MAIL FROM, then cancels ctx and says
		// nothing more. Without ctx, Send would wait 15 s and fail with a
		// timeout instead of context.Canceled.
		ctx, cancel := context.WithCancel(t.Context())
		addr, commands := fakeSMTP(t, "127.0.0.1", nil, "MAIL FROM", cancel)
		sender, err := NewSMTP("smtp://"+addr, testFrom)
		if err != nil {
			t.Fatalf("NewSMTP: %v", err)
		}
		if err := sender.Send(ctx, verifyMessage(t, testTo)); !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
		select {
		case <-commands:
		case <-time.After(waitTimeout):
			t.Error("client did not close the connection")
		}
	})
}

func TestSMTPNoPlaintextPasswordToRemoteHost(t *testing.T) {
	// 127.0.0.2 is a loopback address, but go-mail only exempts localhost,
	// 127.0.0.1 and ::1 from its TLS requirement for PLAIN and LOGIN, so
	// to the sender it is a remote host.
	addr, commands := fakeSMTP(t, "127.0.0.2", []string{"AUTH PLAIN LOGIN"}, "", nil)
	sender, err := NewSMTP("smtp://ann:secret@"+addr, testFrom)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	if err := sender.Send(t.Context(), verifyMessage(t, testTo)); !errors.Is(err, gomailsmtp.ErrUnencrypted) {
		t.Errorf("got error %v, want %v", err, gomailsmtp.ErrUnencrypted)
	}
	select {
	case got := <-commands:
		for _, cmd := range got {
			if strings.HasPrefix(strings.ToUpper(cmd), "AUTH") {
				t.Errorf("got command %q over plaintext, want no AUTH", cmd)
			}
		}
	case <-time.After(waitTimeout):
		t.Error("client did not close the connection")
	}
}

// fakeSMTP serves one connection on host with a scripted SMTP server. It
// greets, answers EHLO advertising ext, and answers 250 to any other
// command until one starts with stallAt (when not ""); it then calls
// onStall and stops answering. Once the client hangs up, it sends the
// commands it received on the returned channel.
func fakeSMTP(tb testing.TB, host string, ext []string, stallAt string, onStall func()) (addr string, commands <-chan []string) {
	tb.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		tb.Skipf("cannot listen on %s: %v", host, err)
	}
	tb.Cleanup(func() { ln.Close() })
	ch := make(chan []string, 1)
	go func() {
		var got []string
		defer func() { ch <- got }()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		text := textproto.NewConn(conn)
		text.PrintfLine("220 fake ESMTP")
		for {
			line, err := text.ReadLine()
			if err != nil {
				return // the client hung up
			}
			got = append(got, line)
			cmd := strings.ToUpper(line)
			switch {
			case stallAt != "" && strings.HasPrefix(cmd, stallAt):
				onStall()
				io.Copy(io.Discard, conn) // until the client hangs up
				return
			case strings.HasPrefix(cmd, "EHLO"):
				text.PrintfLine("250-fake")
				for _, e := range ext {
					text.PrintfLine("250-%s", e)
				}
				text.PrintfLine("250 8BITMIME")
			default:
				text.PrintfLine("250 ok")
			}
		}
	}()
	return ln.Addr().String(), ch
}

func TestNewSMTP(t *testing.T) {
	tests := []struct {
		url         string
		host        string
		port        int
		implicitTLS bool
		user, pass  string
	}{
		{"smtp://mail.example.com", "mail.example.com", 587, false, "", ""},
		{"smtps://mail.example.com", "mail.example.com", 465, true, "", ""},
		{"smtp://mail.example.com:25/", "mail.example.com", 25, false, "", ""},
		{"SMTP://u%40x.com:p%3Aw%2F%40@mail.example.com:2525", "mail.example.com", 2525, false, "u@x.com", "p:w/@"},
		{"smtps://apikey@[::1]", "::1", 465, true, "apikey", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, err := NewSMTP(tt.url, testFrom)
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			if s.host != tt.host || s.port != tt.port || s.implicitTLS != tt.implicitTLS {
				t.Errorf("got host %q port %d implicit TLS %v, want %q %d %v",
					s.host, s.port, s.implicitTLS, tt.host, tt.port, tt.implicitTLS)
			}
			if s.user != tt.user || s.password != tt.pass {
				t.Errorf("got user %q password %q, want %q %q", s.user, s.password, tt.user, tt.pass)
			}
			if tt.pass != "" && strings.Contains(s.String(), tt.pass) {
				t.Errorf("got String() %q, which leaks the password", s.String())
			}
		})
	}
}

func TestNewSMTPErrors(t *testing.T) {
	tests := []struct {
		name, url, from string
	}{
		{"empty URL", "", testFrom},
		{"bad scheme", "http://mail.example.com", testFrom},
		{"no scheme", "mail.example.com:25", testFrom},
		{"missing host", "smtp://", testFrom},
		{"missing host with port", "smtp://:25", testFrom},
		{"missing host with user", "smtp://user:secret@", testFrom},
		{"opaque", "smtp:mail.example.com", testFrom},
		{"port zero", "smtp://mail.example.com:0", testFrom},
		{"port too big", "smtp://mail.example.com:70000", testFrom},
		{"path", "smtp://mail.example.com/x", testFrom},
		{"query", "smtp://mail.example.com?tls=no", testFrom},
		{"password without user", "smtp://:secret@mail.example.com", testFrom},
		{"bad escape in password", "smtp://user:sec%zzret@mail.example.com", testFrom},
		{"unescaped space in password", "smtp://user:sec ret@mail.example.com", testFrom},
		{"empty from", "smtp://mail.example.com", ""},
		{"bad from", "smtp://mail.example.com", "no-reply"},
		{"from with header", "smtp://mail.example.com", "a@b.com\r\nBcc: evil@x.com"},
		{"two froms", "smtp://mail.example.com", "a@b.com, c@d.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSMTP(tt.url, tt.from)
			if err == nil {
				t.Fatalf("got no error for NewSMTP(%q, %q), want one", tt.url, tt.from)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "sec%zz") {
				t.Errorf("got error %q, which leaks the password", err)
			}
		})
	}
}

// TestPermanent: a refused recipient (550) or an invalid message is
// permanent; an outage (451), a refused connection and a failed AUTH (our
// settings, fixed while the mail waits) are temporary.
func TestPermanent(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Reject("gone@example.com")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	authSrv := smtptest.Start(t)
	authSrv.RequireAuth("ann", "right")

	for _, tt := range []struct {
		name      string
		send      func() error
		permanent bool
	}{
		{"refused recipient", func() error {
			return newSender(t, srv).Send(t.Context(), verifyMessage(t, "gone@example.com"))
		}, true},
		{"invalid message", func() error {
			return newSender(t, srv).Send(t.Context(), Message{To: "ann@example.com", Subject: "x"})
		}, true},
		{"server down (451)", func() error {
			down := smtptest.Start(t)
			down.SetDown(true)
			return newSender(t, down).Send(t.Context(), verifyMessage(t, testTo))
		}, false},
		{"connection refused", func() error {
			s, err := NewSMTP("smtp://"+closedAddr, testFrom)
			if err != nil {
				t.Fatal(err)
			}
			return s.Send(t.Context(), verifyMessage(t, testTo))
		}, false},
		{"auth failed", func() error {
			s, err := NewSMTP(strings.Replace(authSrv.URL(), ":right@", ":wrong@", 1), testFrom)
			if err != nil {
				t.Fatal(err)
			}
			return s.Send(t.Context(), verifyMessage(t, testTo))
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send()
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if got := Permanent(err); got != tt.permanent {
				t.Errorf("Permanent(%v) = %t, want %t", err, got, tt.permanent)
			}
		})
	}
	if Permanent(nil) || Permanent(context.DeadlineExceeded) {
		t.Error("Permanent(nil or a timeout) = true, want false")
	}
}
