// Package mail builds and sends the service's transactional emails.
//
// Messages are built by the template constructors (VerifyEmail,
// ResetPassword, AccountExists, PasswordChanged) and sent by a Sender:
// NewSMTP in production, NewLog in development.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
)

// ErrInvalidMessage is wrapped by errors for messages that can never be
// sent as they are (bad recipient, header injection attempt, empty body).
// Retrying such a send is pointless.
var ErrInvalidMessage = errors.New("mail: invalid message")

// Message is one email to one recipient.
type Message struct {
	// To is the recipient: a bare address such as "ann@example.com".
	// Display names ("Ann <ann@example.com>"), lists and anything else
	// are refused.
	To string
	// Subject must not contain CR, LF or NUL.
	Subject string
	// Text is the plain-text body. It is required.
	Text string
	// HTML is the HTML alternative of Text. It is optional.
	HTML string
}

// Sender sends messages.
type Sender interface {
	// Send delivers m, or returns an error; it returns early when ctx is
	// done. Permanent tells the errors that sending again cannot fix.
	Send(ctx context.Context, m Message) error
}

// validate reports whether m is safe and complete enough to send.
func (m Message) validate() error {
	if err := checkRecipient(m.To); err != nil {
		return err
	}
	if m.Subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalidMessage)
	}
	if hasHeaderBreak(m.Subject) {
		return fmt.Errorf("%w: subject contains CR, LF or NUL", ErrInvalidMessage)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: empty text body", ErrInvalidMessage)
	}
	return nil
}

// checkRecipient accepts exactly one bare address: no display name, no
// angle brackets, no surrounding space, no list, no line breaks.
func checkRecipient(to string) error {
	if hasHeaderBreak(to) {
		return fmt.Errorf("%w: recipient contains CR, LF or NUL", ErrInvalidMessage)
	}
	addr, err := netmail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("%w: recipient: %v", ErrInvalidMessage, err)
	}
	if addr.Name != "" || addr.Address != to {
		return fmt.Errorf("%w: recipient must be a bare address like ann@example.com", ErrInvalidMessage)
	}
	return nil
}

// hasHeaderBreak reports whether s holds a character that could end a
// header line or confuse a mail server.
func hasHeaderBreak(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00")
}
