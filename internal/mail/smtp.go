package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Default ports by URL scheme.
const (
	defaultSMTPPort  = 587 // submission, STARTTLS when offered
	defaultSMTPSPort = 465 // submissions, implicit TLS
)

// phaseTimeout bounds each of the two phases of a send: connecting (dial,
// TLS, greeting, AUTH), then transferring the message.
const phaseTimeout = 15 * time.Second

// authMechanisms are the SASL mechanisms tried, in order, when the server
// URL holds credentials; go-mail falls back to its own discovery of
// challenge-response mechanisms when the server offers none of them.
// PLAIN and LOGIN refuse to run unless the connection is TLS or the host
// is localhost, 127.0.0.1 or ::1, so a password never crosses a network
// in the clear.
var authMechanisms = []gomail.SMTPAuthType{
	gomail.SMTPAuthSCRAMSHA256,
	gomail.SMTPAuthSCRAMSHA1,
	gomail.SMTPAuthPlain,
	gomail.SMTPAuthLogin,
}

// SMTPSender sends messages through an SMTP server, one connection per
// message. It is safe for concurrent use.
type SMTPSender struct {
	host        string
	port        int
	implicitTLS bool
	user        string
	password    string
	from        *netmail.Address
	rootCAs     *x509.CertPool // nil: the system roots; set by tests
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTP returns a Sender for the server at serverURL, sending as from.
//
// serverURL is smtp://[user[:password]@]host[:port] or the same with
// smtps. With smtp (default port 587) the connection is upgraded with
// STARTTLS when the server offers it and stays plaintext otherwise; with
// smtps (default port 465) TLS starts on connect. User and password are
// percent-decoded; when a user is given, Send authenticates with the first
// of SCRAM-SHA-256, SCRAM-SHA-1, PLAIN and LOGIN that the server offers
// (else another mechanism go-mail supports) and fails if it cannot. Over
// a plaintext connection, PLAIN and LOGIN are refused unless the host is
// localhost, 127.0.0.1 or ::1, so the password is not sent in the clear.
//
// from is an RFC 5322 address, optionally with a display name, such as
// "Next Secure <no-reply@example.com>"; it is used for the From header
// and the envelope sender.
//
// Errors never include the password.
func NewSMTP(serverURL, from string) (*SMTPSender, error) {
	s, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	if hasHeaderBreak(from) {
		return nil, errors.New("mail: from address contains CR, LF or NUL")
	}
	s.from, err = netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", from, err)
	}
	return s, nil
}

func parseServerURL(serverURL string) (*SMTPSender, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return nil, errors.New("mail: server URL does not parse (check that user and password are percent-encoded)")
	}
	s := &SMTPSender{}
	switch u.Scheme {
	case "smtp":
		s.port = defaultSMTPPort
	case "smtps":
		s.port, s.implicitTLS = defaultSMTPSPort, true
	default:
		return nil, fmt.Errorf("mail: server URL scheme %q, want smtp or smtps", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New("mail: server URL has no host")
	}
	if p := u.Port(); p != "" {
		s.port, err = strconv.Atoi(p)
		if err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("mail: server URL port %q out of range", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("mail: server URL must not have a path, query or fragment")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
		if s.user == "" && s.password != "" {
			return nil, errors.New("mail: server URL has a password but no user")
		}
	}
	return s, nil
}

// String returns the server URL without the password.
func (s *SMTPSender) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(s.host, strconv.Itoa(s.port))}
	if s.implicitTLS {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.User(s.user)
	}
	return u.String()
}

// Send delivers m over a new connection. It gives up when ctx is done, or
// when connecting or transferring the message takes over 15 s.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	msg, err := s.build(m)
	if err != nil {
		return err
	}

	// go-mail uses ctx only to dial, so the connection is closed when ctx
	// is done to abort the rest of the conversation too. It is closed in
	// any case when Send returns: go-mail leaves it open when a command
	// such as EHLO, AUTH or QUIT fails.
	var cleanups []func()
	defer func() {
		for _, cleanup := range cleanups {
			cleanup()
		}
	}()
	dial := func(dialCtx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, net.JoinHostPort(s.host, strconv.Itoa(s.port)))
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		cleanups = append(cleanups, func() {
			stop()
			conn.Close()
		})
		if !s.implicitTLS {
			return conn, nil
		}
		tlsConn := tls.Client(conn, s.tls())
		if err := tlsConn.HandshakeContext(dialCtx); err != nil {
			conn.Close()
			return nil, err
		}
		return tlsConn, nil
	}

	client, err := s.client(dial)
	if err != nil {
		return err
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("mail: send: %w", ctxErr)
		}
		return fmt.Errorf("mail: send: %w", err)
	}
	return nil
}

// client returns a go-mail client for one send. A fresh client per send
// keeps concurrent sends apart.
func (s *SMTPSender) client(dial gomail.DialContextFunc) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(phaseTimeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithoutNoop(), // the connection is fresh
		gomail.WithTLSConfig(s.tls()),
	}
	if s.implicitTLS {
		// dial has done TLS already; go-mail must not try STARTTLS.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(authMechanisms...),
			gomail.WithUsername(s.user),
			gomail.WithPassword(s.password),
		)
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp client: %w", err)
	}
	return c, nil
}

// tls returns the TLS configuration for the server.
func (s *SMTPSender) tls() *tls.Config {
	return &tls.Config{ServerName: s.host, RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
}

// build turns m into a go-mail message: headers From, To, Subject, Date,
// Message-ID and Auto-Submitted, and a text body with an HTML alternative.
func (s *SMTPSender) build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: recipient: %v", ErrInvalidMessage, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(rand.Text() + "@" + domain(s.from.Address))
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// domain returns the part of addr after the last @.
func domain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// Permanent reports whether sending a message again cannot succeed: the
// message itself was refused (ErrInvalidMessage), or the server answered a
// command about this message (RCPT TO, DATA, the end of DATA) with a 5xx
// reply, such as a refused recipient. Anything else is temporary and worth
// retrying: a 4xx reply, a network error, a timeout, and also a 5xx reply to
// the session's own set-up (greeting, STARTTLS, AUTH, MAIL FROM), which says
// the server or our settings are wrong, not this message, and is fixed by an
// operator while the mail waits.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return se.ErrorCode() >= 500 && se.ErrorCode() < 600
	}
	return false
}
