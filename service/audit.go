package service

import (
	"context"

	"github.com/nextsecure/nextsecure/db"
)

// audit records an event in the audit trail inside q's transaction. userID
// is whom it concerns and actorID who acted ("" for nobody known). detail
// must never hold a secret.
func (s *Service) audit(ctx context.Context, q *db.Queries, userID, actorID, typ string, meta Meta, detail string) error {
	return q.CreateAuthEvent(ctx, db.CreateAuthEventParams{
		UserID: nonEmpty(userID), ActorID: nonEmpty(actorID), Type: typ,
		Ip: truncate(meta.IP, 64), UserAgent: truncate(meta.UserAgent, 512), Detail: detail,
		CreatedAt: s.now(),
	})
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
