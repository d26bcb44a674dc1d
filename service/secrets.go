package service

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/secrets"
)

// purposeProviderToken is the label under which provider tokens are sealed;
// each purpose has its own key.
const purposeProviderToken = "provider-token"

// The accounts columns that hold provider tokens, sealed under AUTH_SECRET.
const (
	colRefreshToken = "refresh_token"
	colAccessToken  = "access_token"
	colIDToken      = "id_token"
)

// providerTokenAD binds a sealed provider token to its row and column, so a
// value copied to another account or column does not open. Each part is
// length-prefixed, so no two identities share an encoding.
func providerTokenAD(provider, providerAccountID, column string) []byte {
	var b []byte
	for _, s := range []string{"accounts", provider, providerAccountID, column} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// errNoSecrets is returned when a workflow must seal or open a secret but
// the service was built without Config.Secrets.
var errNoSecrets = errors.New("service: Config.Secrets is not set")

// sealProviderToken seals one provider token for its row and column under
// the first AUTH_SECRET value; nil stays nil.
func (s *Service) sealProviderToken(provider, providerAccountID, column string, token *string) (*string, error) {
	if token == nil {
		return nil, nil
	}
	if s.cfg.Secrets == nil {
		return nil, errNoSecrets
	}
	sealed, err := s.cfg.Secrets.Seal(purposeProviderToken, []byte(*token), providerTokenAD(provider, providerAccountID, column))
	if err != nil {
		return nil, err
	}
	return &sealed, nil
}

// openProviderToken returns a stored provider token in plain text. A value
// that is not sealed was stored by a version before AUTH_SECRET and is
// returned as it is, until "nextsecure secrets reencrypt" seals it.
func (s *Service) openProviderToken(provider, providerAccountID, column string, stored *string) (*string, error) {
	if stored == nil || !secrets.IsSealed(*stored) {
		return stored, nil
	}
	if s.cfg.Secrets == nil {
		return nil, errNoSecrets
	}
	pt, err := s.cfg.Secrets.Open(purposeProviderToken, *stored, providerTokenAD(provider, providerAccountID, column))
	if err != nil {
		return nil, err
	}
	token := string(pt)
	return &token, nil
}

// ReencryptResult counts the stored secrets that ReencryptSecrets looked
// at, one per non-NULL value.
type ReencryptResult struct {
	// Reencrypted were sealed under an older AUTH_SECRET value, or stored
	// in plain text by an older version, and are now sealed under the first.
	Reencrypted int
	// Current were sealed under the first value already.
	Current int
	// Failed did not open (sealed under a value no longer in AUTH_SECRET,
	// or altered) and were left as they were; each is logged.
	Failed int
}

// reencryptBatch is how many rows ReencryptSecrets reads at a time.
const reencryptBatch = 500

// ReencryptSecrets rewrites every stored secret under the first
// AUTH_SECRET value: the provider tokens of table accounts and the TOTP
// secrets of table user_mfa. It is
// idempotent; it reads the table in keyset batches and updates a row only
// if it still holds what was read (compare-and-swap), reading it again
// otherwise, so a token written meanwhile is never overwritten. Values that
// do not open are counted in Failed, logged without their content, and
// left alone. It fails with CodeInternal when Config.Secrets is not set,
// and CodeUnavailable or CodeInternal on database errors.
func (s *Service) ReencryptSecrets(ctx context.Context) (ReencryptResult, error) {
	var res ReencryptResult
	if s.cfg.Secrets == nil {
		return res, AsError(errNoSecrets)
	}
	// The keyset starts after ('', ''), so the one key it cannot reach is
	// read on its own.
	first, err := s.q.GetAccountSecrets(ctx, db.GetAccountSecretsParams{})
	if err == nil {
		err = s.reencryptAccount(ctx, first, &res)
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, translate(err)
	}
	after := db.ListAccountSecretsParams{MaxRows: reencryptBatch}
	for {
		rows, err := s.q.ListAccountSecrets(ctx, after)
		if err != nil {
			return res, translate(err)
		}
		for _, r := range rows {
			if err := s.reencryptAccount(ctx, db.GetAccountSecretsRow(r), &res); err != nil {
				return res, err
			}
		}
		if len(rows) < int(after.MaxRows) {
			break
		}
		last := rows[len(rows)-1]
		after.AfterProvider, after.AfterAccountID = last.Provider, last.ProviderAccountID
	}
	return res, s.reencryptTOTPSecrets(ctx, &res)
}

// reencryptTOTPSecrets re-seals the TOTP secrets (enabled and pending) of
// table user_mfa under the first key, in keyset batches by user id. A row
// whose secrets changed between the read and the compare-and-swap is left
// alone: whatever changed it (an enrolment, a confirmation, a reset) sealed
// under the first key or removed the secret.
func (s *Service) reencryptTOTPSecrets(ctx context.Context, res *ReencryptResult) error {
	after := db.ListMFASecretsParams{MaxRows: reencryptBatch}
	for {
		rows, err := s.q.ListMFASecrets(ctx, after)
		if err != nil {
			return translate(err)
		}
		for _, r := range rows {
			var step ReencryptResult
			p := db.SwapMFASecretsParams{UserID: r.UserID, OldSecret: r.Secret, OldPendingSecret: r.PendingSecret}
			p.Secret = s.resealTOTP(r.UserID, "secret", r.Secret, &step)
			p.PendingSecret = s.resealTOTP(r.UserID, "pending_secret", r.PendingSecret, &step)
			if step.Reencrypted > 0 {
				n, err := s.q.SwapMFASecrets(ctx, p)
				if err != nil {
					return translate(err)
				}
				if n == 0 {
					continue // changed meanwhile, under the first key
				}
			}
			res.Reencrypted += step.Reencrypted
			res.Current += step.Current
			res.Failed += step.Failed
		}
		if len(rows) < int(after.MaxRows) {
			return nil
		}
		after.AfterUserID = rows[len(rows)-1].UserID
	}
}

// resealTOTP is reseal for a sealed TOTP secret of userID.
func (s *Service) resealTOTP(userID, column string, stored *string, step *ReencryptResult) *string {
	if stored == nil {
		return nil
	}
	plain, err := s.openTOTP(userID, *stored)
	if err == nil && s.cfg.Secrets.IsCurrent(*stored) {
		step.Current++
		return stored
	}
	if err == nil {
		var sealed string
		if sealed, err = s.sealTOTP(userID, plain); err == nil {
			step.Reencrypted++
			return &sealed
		}
	}
	step.Failed++
	s.log.Warn("secrets reencrypt: a stored value does not open; left as it is",
		"table", "user_mfa", "user", userID, "column", column, "err", err)
	return stored
}

// reencryptAccount re-seals one account's tokens, reading the row again
// each time a concurrent write changed it first.
func (s *Service) reencryptAccount(ctx context.Context, r db.GetAccountSecretsRow, res *ReencryptResult) error {
	for attempt := 0; ; attempt++ {
		var step ReencryptResult
		p := db.SwapAccountSecretsParams{
			Provider: r.Provider, ProviderAccountID: r.ProviderAccountID,
			OldRefreshToken: r.RefreshToken, OldAccessToken: r.AccessToken, OldIDToken: r.IDToken,
		}
		for _, c := range []struct {
			column   string
			old      *string
			resealed **string
		}{
			{colRefreshToken, r.RefreshToken, &p.RefreshToken},
			{colAccessToken, r.AccessToken, &p.AccessToken},
			{colIDToken, r.IDToken, &p.IDToken},
		} {
			*c.resealed = s.reseal(r.Provider, r.ProviderAccountID, c.column, c.old, &step)
		}
		if step.Reencrypted == 0 {
			res.Current += step.Current
			res.Failed += step.Failed
			return nil
		}
		if s.beforeSwap != nil {
			s.beforeSwap()
		}
		n, err := s.q.SwapAccountSecrets(ctx, p)
		if err != nil {
			return translate(err)
		}
		if n == 1 {
			res.Reencrypted += step.Reencrypted
			res.Current += step.Current
			res.Failed += step.Failed
			return nil
		}
		if attempt == 9 {
			return Errorf(CodeUnavailable, "Account %s/%s kept changing during re-encryption; run it again.", r.Provider, r.ProviderAccountID)
		}
		r, err = s.q.GetAccountSecrets(ctx, db.GetAccountSecretsParams{Provider: r.Provider, ProviderAccountID: r.ProviderAccountID})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted meanwhile: nothing left to re-encrypt
		}
		if err != nil {
			return translate(err)
		}
	}
}

// reseal returns what one stored value becomes under the first key, and
// counts it in step: a current value stays, plain text and values under
// older keys are sealed anew, and a value that does not open stays.
func (s *Service) reseal(provider, providerAccountID, column string, stored *string, step *ReencryptResult) *string {
	if stored == nil {
		return nil
	}
	plain, err := s.openProviderToken(provider, providerAccountID, column, stored)
	if err == nil && s.cfg.Secrets.IsCurrent(*stored) {
		step.Current++
		return stored
	}
	if err == nil {
		var sealed *string
		if sealed, err = s.sealProviderToken(provider, providerAccountID, column, plain); err == nil {
			step.Reencrypted++
			return sealed
		}
	}
	step.Failed++
	s.log.Warn("secrets reencrypt: a stored value does not open; left as it is",
		"table", "accounts", "provider", provider, "provider_account_id", providerAccountID, "column", column, "err", err)
	return stored
}
