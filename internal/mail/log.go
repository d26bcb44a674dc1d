package mail

import (
	"context"
	"log/slog"
)

// logSender is the Sender returned by NewLog.
type logSender struct {
	logger *slog.Logger
}

// NewLog returns a Sender for development only, used when no SMTP server
// is configured: it sends nothing and instead logs each message's
// recipient, subject and text body at info level. The text body holds the
// message's links and tokens, so never use it in production.
// A nil logger means slog.Default().
func NewLog(logger *slog.Logger) Sender {
	if logger == nil {
		logger = slog.Default()
	}
	return logSender{logger: logger}
}

// Send validates m like the SMTP sender does, then logs it.
func (s logSender) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "mail: not sent, logged for development",
		"to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
