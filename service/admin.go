package service

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/db"
)

// Page sizes of the admin lists.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 100
)

// maxQueryLen bounds the user search string, like an email.
const maxQueryLen = maxEmailLen

// maxCursorLen bounds a cursor before it is decoded: an id of at most
// maxCursorIDLen bytes and a timestamp, in base64.
const (
	maxCursorIDLen = 255
	maxCursorLen   = (8+maxCursorIDLen+2)/3*4 + 4
)

// ListUsersInput selects one page of users.
type ListUsersInput struct {
	// Query, when not empty after trimming, keeps the users whose email or
	// name contains it, case-insensitively; at most 254 characters.
	Query string
	// Limit is the page size, 1 to MaxPageLimit.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first.
	Cursor string
}

// UserPage is one page of users, newest first.
type UserPage struct {
	Users []User
	// NextCursor fetches the next page; "" on the last page.
	NextCursor string
}

// ListUsers returns a page of users, newest createdAt first (ties broken by
// id), by keyset pagination: a page continues exactly after the previous
// page's last user, so users created meanwhile neither repeat nor push
// others out of the listing.
// Errors: CodeValidation (fields q, limit, cursor), CodeUnavailable.
func (s *Service) ListUsers(ctx context.Context, in ListUsersInput) (UserPage, error) {
	query := strings.TrimSpace(in.Query)
	var qErr, cursorErr *FieldError
	if utf8.RuneCountInString(query) > maxQueryLen {
		qErr = &FieldError{Field: "q", Code: "too_long", Message: "Search for at most 254 characters."}
	}
	after, cursorOK := decodeUserCursor(in.Cursor)
	if !cursorOK {
		cursorErr = badCursor()
	}
	if err := validation(qErr, limitField(in.Limit), cursorErr); err != nil {
		return UserPage{}, err
	}
	params := db.ListUsersParams{RowLimit: int32(in.Limit) + 1}
	if in.Cursor != "" {
		params.AfterCreatedAt, params.AfterID = &after.createdAt, &after.id
	}
	var rows []db.UserProfile
	var err error
	if query == "" {
		rows, err = s.q.ListUsers(ctx, params)
	} else {
		// Two queries rather than one with "q = '' OR ...": a plan made for
		// any q could use neither the trigram indexes nor stop early.
		rows, err = db.New(customPlan{s.pool}).SearchUsers(ctx, db.SearchUsersParams{Pattern: likeEscaper.Replace(query),
			AfterCreatedAt: params.AfterCreatedAt, AfterID: params.AfterID, RowLimit: params.RowLimit})
	}
	if err != nil {
		return UserPage{}, translate(err)
	}
	var page UserPage
	if len(rows) > in.Limit {
		rows = rows[:in.Limit]
		last := rows[len(rows)-1]
		page.NextCursor = encodeUserCursor(userCursor{createdAt: last.CreatedAt, id: last.ID})
	}
	page.Users = make([]User, len(rows))
	for i, r := range rows {
		page.Users[i] = userFromProfile(r)
	}
	return page, nil
}

// customPlan runs each statement as an unnamed prepared statement
// (pgx.QueryExecModeCacheDescribe, still one round trip), which PostgreSQL
// plans for the values it is given every time. SearchUsers needs that: the
// best plan depends on the pattern (a rare substring: the trigram indexes;
// a common one: walking users_created_at_id_idx until the page is full), and
// the generic plan a named statement switches to after five executions
// walks the whole index for a rare one (94 ms at 20,000 users, seconds at a
// million).
type customPlan struct{ db.DBTX }

func (c customPlan) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.DBTX.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

func limitField(limit int) *FieldError {
	if limit < 1 || limit > MaxPageLimit {
		return &FieldError{Field: "limit", Code: "invalid", Message: "Use a whole number from 1 to 100."}
	}
	return nil
}

func badCursor() *FieldError {
	return &FieldError{Field: "cursor", Code: "invalid",
		Message: "Use the nextCursor of the previous page, with the same other parameters."}
}

// userCursor is the position after which a user page continues.
type userCursor struct {
	createdAt time.Time
	id        string
}

// encodeUserCursor makes the opaque cursor: base64url of the microseconds
// since the epoch (PostgreSQL's precision, so the position is exact) and the id.
func encodeUserCursor(c userCursor) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.createdAt.UnixMicro()))
	return base64.RawURLEncoding.EncodeToString(append(b, c.id...))
}

// decodeUserCursor parses a cursor; "" is the start and ok.
func decodeUserCursor(s string) (c userCursor, ok bool) {
	if s == "" {
		return c, true
	}
	if len(s) > maxCursorLen {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || len(b) > 8+maxCursorIDLen || !utf8.Valid(b[8:]) || strings.ContainsRune(string(b[8:]), 0) {
		return c, false
	}
	c.createdAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))).UTC()
	c.id = string(b[8:])
	// Keep within what PostgreSQL (and pgx) can represent.
	if y := c.createdAt.Year(); y < 1 || y > 9999 {
		return userCursor{}, false
	}
	return c, true
}

// GetUser returns the user with id.
// Errors: CodeNotFound, CodeUnavailable.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	p, err := s.q.GetUserProfile(ctx, id)
	if err != nil {
		return User{}, userNotFound(translate(err))
	}
	return userFromProfile(p), nil
}

func userNotFound(err error) error {
	if ErrorCode(err) == CodeNotFound {
		return Errorf(CodeNotFound, "No user has that id.")
	}
	return err
}

// UserChange is what an admin changes about a user; nil fields stay as they are.
type UserChange struct {
	Role     *string
	IsActive *bool
}

// UpdateUser applies an admin's change to the user with id, in one
// transaction: deactivating revokes every session of the user, and each
// actual change is recorded in the audit trail with actor as its actor. A
// change that would demote or deactivate the last active admin is refused.
// Errors: CodeValidation (field role), CodeNotFound, CodeConflict, CodeUnavailable.
func (s *Service) UpdateUser(ctx context.Context, actor Principal, id string, ch UserChange, meta Meta) (User, error) {
	if ch.Role != nil && !validRole(*ch.Role) {
		return User{}, validation(&FieldError{Field: "role", Code: "invalid", Message: "Use user or admin."})
	}
	var user User
	err := s.tx(ctx, func(q *db.Queries) error {
		if err := q.LockAdmins(ctx); err != nil {
			return err
		}
		before, err := q.GetUser(ctx, id)
		if err != nil {
			return err
		}
		var params db.UpdateUserAdminParams
		params.ID = id
		if ch.Role != nil && *ch.Role != before.Role {
			params.Role = ch.Role
		}
		if ch.IsActive != nil && *ch.IsActive != before.IsActive {
			params.IsActive = ch.IsActive
		}
		stillAdmin := (params.Role == nil || *params.Role == RoleAdmin) && (params.IsActive == nil || *params.IsActive)
		if before.Role == RoleAdmin && before.IsActive && !stillAdmin {
			if err := s.requireOtherAdmin(ctx, q); err != nil {
				return err
			}
		}
		if params.Role != nil || params.IsActive != nil {
			if _, err := q.UpdateUserAdmin(ctx, params); err != nil {
				return err
			}
		}
		if params.Role != nil {
			if err := s.audit(ctx, q, id, actor.User.ID, "role_changed", meta, "role "+*params.Role); err != nil {
				return err
			}
		}
		if params.IsActive != nil {
			typ, detail := "user_reactivated", "reactivated"
			if !*params.IsActive {
				typ, detail = "user_deactivated", "deactivated"
			}
			if err := s.audit(ctx, q, id, actor.User.ID, typ, meta, detail); err != nil {
				return err
			}
		}
		// Revoke on every deactivation request, even of an already inactive
		// user, so no session of an inactive user can survive.
		if ch.IsActive != nil && !*ch.IsActive {
			if _, err := q.DeleteSessionsByUser(ctx, id); err != nil {
				return err
			}
		}
		p, err := q.GetUserProfile(ctx, id)
		user = userFromProfile(p)
		return err
	})
	if err != nil {
		return User{}, userNotFound(err)
	}
	return user, nil
}

// DeleteUser deletes the user with id and everything of theirs (cascade),
// for an admin. The audit trail keeps the deletion, with actor as its actor.
// The last active admin cannot be deleted.
// Errors: CodeNotFound, CodeConflict, CodeUnavailable.
func (s *Service) DeleteUser(ctx context.Context, actor Principal, id string, meta Meta) error {
	err := s.tx(ctx, func(q *db.Queries) error {
		if err := q.LockAdmins(ctx); err != nil {
			return err
		}
		before, err := q.GetUser(ctx, id)
		if err != nil {
			return err
		}
		if before.Role == RoleAdmin && before.IsActive {
			if err := s.requireOtherAdmin(ctx, q); err != nil {
				return err
			}
		}
		if n, err := q.DeleteUser(ctx, id); err != nil || n == 0 {
			if err == nil {
				err = Errorf(CodeNotFound, "No user has that id.")
			}
			return err
		}
		return s.audit(ctx, q, id, actor.User.ID, "user_deleted", meta, "deleted; role "+before.Role)
	})
	return userNotFound(err)
}

// requireOtherAdmin fails with CodeConflict unless, besides the one about
// to be removed, another active admin exists. The caller holds LockAdmins.
func (s *Service) requireOtherAdmin(ctx context.Context, q *db.Queries) error {
	n, err := q.CountActiveAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return Errorf(CodeConflict, "The last active admin cannot be removed, demoted or deactivated.")
	}
	return nil
}

// Event is one entry of a user's audit trail. It never holds a secret.
type Event struct {
	ID        string
	Type      string
	CreatedAt time.Time
	IP        string
	UserAgent string
	// ActorID is the admin who acted on the user; "" when the user
	// themselves (or no one known) did.
	ActorID string
	Detail  string
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events []Event
	// NextCursor fetches the next page; "" on the last page.
	NextCursor string
}

// ListUserEvents returns a page of the audit trail of the user with id,
// newest first. The trail outlives the user: a deleted user's id still has
// its events, and an unknown id has none (not an error).
// Errors: CodeValidation (fields limit, cursor), CodeUnavailable.
func (s *Service) ListUserEvents(ctx context.Context, userID string, limit int, cursor string) (EventPage, error) {
	before, cursorOK := decodeEventCursor(cursor)
	var cursorErr *FieldError
	if !cursorOK {
		cursorErr = badCursor()
	}
	if err := validation(limitField(limit), cursorErr); err != nil {
		return EventPage{}, err
	}
	params := db.ListAuthEventsByUserParams{UserID: &userID, RowLimit: int32(limit) + 1}
	if cursor != "" {
		params.BeforeID = &before
	}
	rows, err := s.q.ListAuthEventsByUser(ctx, params)
	if err != nil {
		return EventPage{}, translate(err)
	}
	var page EventPage
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = encodeEventCursor(rows[len(rows)-1].ID)
	}
	page.Events = make([]Event, len(rows))
	for i, r := range rows {
		e := Event{
			ID: strconv.FormatInt(r.ID, 10), Type: r.Type, CreatedAt: r.CreatedAt, IP: r.Ip,
			UserAgent: r.UserAgent, Detail: r.Detail,
		}
		// The contract names only an admin acting on someone else: the
		// trail records the user as the actor of their own actions.
		if r.ActorID != nil && *r.ActorID != userID {
			e.ActorID = *r.ActorID
		}
		page.Events[i] = e
	}
	return page, nil
}

// encodeEventCursor makes the opaque cursor of an event page: base64url of
// the last event's id.
func encodeEventCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(id)))
}

// decodeEventCursor parses a cursor; "" is the start and ok.
func decodeEventCursor(s string) (id int64, ok bool) {
	if s == "" {
		return 0, true
	}
	if len(s) != 11 {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	id = int64(binary.BigEndian.Uint64(b))
	return id, id > 0
}
