// Package smtptest runs an in-process SMTP server for tests. It listens on
// 127.0.0.1, speaks plain SMTP (or, with StartTLS, offers STARTTLS or
// implicit TLS with a self-signed certificate), accepts AUTH PLAIN even
// without TLS, and records every message it accepts.
package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Default credentials put in URL when RequireAuth has not been called. Any
// credentials are accepted in that mode.
const (
	defaultUser     = "user"
	defaultPassword = "pass"
)

// errDown is the reply to MAIL FROM while the server is down.
var errDown = &smtp.SMTPError{
	Code:         451,
	EnhancedCode: smtp.EnhancedCode{4, 3, 0},
	Message:      "Service temporarily unavailable (smtptest)",
}

// errNoMailbox is the reply to RCPT TO for a rejected recipient.
var errNoMailbox = &smtp.SMTPError{
	Code:         550,
	EnhancedCode: smtp.EnhancedCode{5, 1, 1},
	Message:      "No such mailbox (smtptest)",
}

// TLSMode selects whether and how a Server offers TLS.
type TLSMode int

const (
	// TLSNone serves plain SMTP only.
	TLSNone TLSMode = iota
	// TLSStartTLS serves plain SMTP and offers the STARTTLS upgrade.
	TLSStartTLS
	// TLSImplicit serves SMTP inside TLS from the first byte (smtps).
	TLSImplicit
)

// Server is an SMTP server listening on 127.0.0.1. Its methods are safe
// for concurrent use.
type Server struct {
	srv     *smtp.Server
	addr    string
	mode    TLSMode
	rootCAs *x509.CertPool

	mu       sync.Mutex
	msgs     []Message
	changed  chan struct{} // closed and replaced whenever msgs grows
	down     bool
	rejected map[string]int // recipient (lower case) -> RCPT TO refused so far; nil: none
	user     string         // with password: the required credentials; "" means any
	password string
}

// Start starts a plaintext Server on 127.0.0.1 at a free port. It is
// closed when the test and its subtests finish.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartTLS(tb, TLSNone)
}

// StartTLS is like Start but offers TLS as mode says, with a self-signed
// certificate for 127.0.0.1 that clients can trust through RootCAs.
func StartTLS(tb testing.TB, mode TLSMode) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{addr: ln.Addr().String(), mode: mode, changed: make(chan struct{})}

	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "smtptest.localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ErrorLog = log.New(io.Discard, "", 0)

	if mode != TLSNone {
		cfg, pool, err := selfSigned()
		if err != nil {
			ln.Close()
			tb.Fatalf("smtptest: certificate: %v", err)
		}
		s.rootCAs = pool
		if mode == TLSImplicit {
			ln = tls.NewListener(ln, cfg)
		} else {
			s.srv.TLSConfig = cfg
		}
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln) // returns nil once Close is called
	}()
	tb.Cleanup(func() {
		if err := s.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			tb.Errorf("smtptest: close: %v", err)
		}
		// Serve may not have registered ln with srv yet.
		ln.Close()
		<-done
	})
	return s
}

// RootCAs returns a pool holding the server's certificate, or nil for a
// plaintext server.
func (s *Server) RootCAs() *x509.CertPool { return s.rootCAs }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL returns smtp://user:pass@127.0.0.1:PORT (smtps:// for TLSImplicit),
// with the credentials given to RequireAuth if it was called, else
// placeholder ones.
func (s *Server) URL() string {
	s.mu.Lock()
	user, password := s.user, s.password
	s.mu.Unlock()
	if user == "" {
		user, password = defaultUser, defaultPassword
	}
	scheme := "smtp"
	if s.mode == TLSImplicit {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, User: url.UserPassword(user, password), Host: s.addr}
	return u.String()
}

// RequireAuth makes the server demand AUTH PLAIN with exactly these
// credentials before MAIL FROM. Until it is called, AUTH is optional and
// any credentials are accepted.
func (s *Server) RequireAuth(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password = user, password
}

// SetDown simulates an outage (down is true) or recovery (false) at the
// same address: while down, the server still accepts connections but
// answers MAIL FROM with a temporary 451 error, so nothing is delivered.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Reject makes the server refuse the recipient addr (case-insensitively)
// at RCPT TO with a permanent 550 error, as for a mailbox that does not exist.
func (s *Server) Reject(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejected == nil {
		s.rejected = map[string]int{}
	}
	s.rejected[strings.ToLower(addr)] += 0
}

// Refused reports how many times RCPT TO was refused for addr.
func (s *Server) Refused(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected[strings.ToLower(addr)]
}

// Messages returns a copy of the messages received so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until at least n messages have been received and returns
// them all. It fails the test if that takes longer than timeout.
func (s *Server) WaitFor(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := append([]Message(nil), s.msgs...)
			s.mu.Unlock()
			return msgs
		}
		changed, got := s.changed, len(s.msgs)
		s.mu.Unlock()

		select {
		case <-changed:
		case <-timer.C:
			tb.Fatalf("smtptest: got %d messages after %v, want at least %d", got, timeout, n)
			return nil
		}
	}
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

// session is one SMTP connection.
type session struct {
	srv  *Server
	conn *smtp.Conn
	user string // authenticated user; "" before AUTH
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, password string) error {
		ss.srv.mu.Lock()
		wantUser, wantPassword := ss.srv.user, ss.srv.password
		ss.srv.mu.Unlock()
		if wantUser != "" && (user != wantUser || password != wantPassword) {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.srv.mu.Lock()
	down, authRequired := ss.srv.down, ss.srv.user != ""
	ss.srv.mu.Unlock()
	switch {
	case down:
		return errDown
	case authRequired && ss.user == "":
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.srv.mu.Lock()
	_, reject := ss.srv.rejected[strings.ToLower(to)]
	if reject {
		ss.srv.rejected[strings.ToLower(to)]++
	}
	ss.srv.mu.Unlock()
	if reject {
		return errNoMailbox
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := newMessage(ss.from, ss.to, data)
	m.User, m.TLS = ss.user, isTLS
	ss.srv.add(m)
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }
