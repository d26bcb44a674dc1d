package service

import (
	"context"
	"errors"
)

// Purge deletes what has expired: verification and reset tokens, pending
// registrations, sessions, provider sign-in flows, rate-limit windows long past, and audit events
// older than the retention. A periodic job runs it (Worker); River cleans
// its own finished jobs.
// Errors: CodeUnavailable, CodeInternal.
func (s *Service) Purge(ctx context.Context) error {
	now := s.now()
	_, e1 := s.q.DeleteExpiredVerificationTokens(ctx, now)
	_, e2 := s.q.DeleteExpiredPreregistrations(ctx, &now)
	_, e3 := s.q.DeleteExpiredSessions(ctx, now)
	_, e4 := s.q.DeleteStaleRateLimits(ctx, now.Add(-2*limitNotice.Window))
	_, e6 := s.q.DeleteExpiredOAuthFlows(ctx, now)
	_, e7 := s.q.DeleteExpiredMFATokens(ctx, now)
	var e5 error
	if s.cfg.AuditRetention > 0 {
		_, e5 = s.q.DeleteAuthEventsBefore(ctx, now.Add(-s.cfg.AuditRetention))
	}
	return translate(errors.Join(e1, e2, e3, e4, e5, e6, e7))
}
