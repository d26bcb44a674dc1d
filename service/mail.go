package service

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/mail"
)

// enqueue queues m in q's transaction: it is sent only if the transaction
// commits, and survives a crash between commit and send.
func (s *Service) enqueue(ctx context.Context, q *db.Queries, m mail.Message) error {
	_, err := q.EnqueueMail(ctx, db.EnqueueMailParams{
		Recipient: m.To, Subject: m.Subject, TextBody: m.Text, HtmlBody: m.HTML, RunAt: s.now(),
	})
	s.meters.mailQueued(err)
	return err
}

// MailWorker sends queued mail. Several workers, in one process or many,
// share the queue: each claims due messages with FOR UPDATE SKIP LOCKED under
// a lease, so a message is sent by one worker at a time. A failed send is
// retried with exponential backoff; a worker that dies mid-send leaves its
// lease to expire and another takes the message over. Delivery is at least
// once: a crash after the SMTP server accepted a message and before it was
// deleted sends it again.
type MailWorker struct {
	q      *db.Queries
	sender mail.Sender
	now    func() time.Time
	log    *slog.Logger

	// Poll is how often the queue is checked; Lease how long a claimed
	// message is reserved; MaxAttempts when to give up on one.
	Poll        time.Duration
	Lease       time.Duration
	MaxAttempts int32
	// OnResult, when set, is told each send's outcome ("sent", "retry", "failed").
	OnResult func(outcome string)
}

// NewMailWorker returns a worker sending through sender.
func (s *Service) NewMailWorker(sender mail.Sender) *MailWorker {
	return &MailWorker{
		q: s.q, sender: sender, now: s.now, log: s.log,
		Poll: time.Second, Lease: 2 * time.Minute, MaxAttempts: 25, OnResult: s.meters.mailResult,
	}
}

// Run sends mail until ctx is done. A message being sent when ctx ends is
// finished (or given up) first, within the send's own timeout.
func (w *MailWorker) Run(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		for {
			n, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.log.Warn("mail queue", "err", err)
			}
			if n == 0 || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims and sends one batch of due messages and returns how many
// it claimed.
func (w *MailWorker) RunOnce(ctx context.Context) (int, error) {
	now := w.now()
	msgs, err := w.q.ClaimMail(ctx, db.ClaimMailParams{LeaseUntil: now.Add(w.Lease), Now: now, RowLimit: 10})
	if err != nil {
		return 0, err
	}
	// Sending and recording outlive a cancelled ctx, so a shutdown does
	// not strand a message that was already handed to the SMTP server.
	bg := context.WithoutCancel(ctx)
	for _, m := range msgs {
		sendCtx, cancel := context.WithTimeout(bg, 30*time.Second)
		err := w.sender.Send(sendCtx, mail.Message{To: m.Recipient, Subject: m.Subject, Text: m.TextBody, HTML: m.HtmlBody})
		cancel()
		switch {
		case err == nil:
			err = w.q.DeleteMail(bg, m.ID)
			w.result("sent")
		case m.Attempts >= w.MaxAttempts:
			w.log.Error("mail given up", "id", m.ID, "attempts", m.Attempts, "err", err)
			err = w.q.FailMail(bg, db.FailMailParams{ID: m.ID, Now: ptr(w.now()), LastError: truncate(err.Error(), 1000)})
			w.result("failed")
		default:
			w.log.Warn("mail send failed; will retry", "id", m.ID, "attempts", m.Attempts, "err", err)
			err = w.q.RetryMail(bg, db.RetryMailParams{
				ID: m.ID, RunAt: w.now().Add(backoff(m.Attempts)), LastError: truncate(err.Error(), 1000),
			})
			w.result("retry")
		}
		if err != nil {
			return len(msgs), errors.Join(errors.New("record mail outcome"), err)
		}
	}
	return len(msgs), nil
}

func (w *MailWorker) result(outcome string) {
	if w.OnResult != nil {
		w.OnResult(outcome)
	}
}

// backoff is the wait before retry n (1-based): 2 s doubling, at most an hour.
func backoff(attempt int32) time.Duration {
	d := 2 * time.Second
	for i := int32(1); i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
