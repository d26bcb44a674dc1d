package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/mail"
)

// Mail goes through River's job queue (the river_job table). A job is
// inserted in the transaction of the request that wants the mail, so it is
// sent only if that commits, and a crash between commit and send loses
// nothing. A job never holds a token or a rendered mail with a link: the
// worker issues the token when it sends, so the one plaintext copy of a
// token is the email. Jobs are retried with backoff; a permanent SMTP error
// cancels the job.

// Job kinds.
const (
	kindVerifyEmail     = "verify_email"
	kindResetPassword   = "reset_password"
	kindAccountExists   = "account_exists_notice"
	kindPasswordChanged = "password_changed_notice"
	kindPurge           = "purge"
)

// verifyEmailArgs asks for a verification mail to the pending registration
// of Email (normalised), whatever it is when the job runs.
type verifyEmailArgs struct {
	Email string `json:"email"`
}

func (verifyEmailArgs) Kind() string { return kindVerifyEmail }

// resetPasswordArgs asks for a reset mail to the account of Email
// (normalised), if there is one when the job runs. IP and UserAgent are the
// request's, for the audit trail.
type resetPasswordArgs struct {
	Email     string `json:"email"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
}

func (resetPasswordArgs) Kind() string { return kindResetPassword }

// accountExistsArgs is the notice that someone tried to sign up with an
// account's address; it carries no token.
type accountExistsArgs struct {
	To string `json:"to"`
}

func (accountExistsArgs) Kind() string { return kindAccountExists }

// passwordChangedArgs is the notice that an account's password changed.
type passwordChangedArgs struct {
	To string `json:"to"`
}

func (passwordChangedArgs) Kind() string { return kindPasswordChanged }

// kindMFAReset is the job kind of the notice that an admin or operator
// turned an account's two-factor off.
const kindMFAReset = "mfa_reset"

// mfaResetArgs is the notice that an account's two-factor was reset.
type mfaResetArgs struct {
	To string `json:"to"`
}

func (mfaResetArgs) Kind() string { return kindMFAReset }

// purgeArgs runs Purge; a periodic job inserts it.
type purgeArgs struct{}

func (purgeArgs) Kind() string { return kindPurge }

// riverLatest returns the version of River's newest migration, which the
// database must be at (Ready). It is computed on first use, not at package
// init, so that importing the package builds no migrator.
var riverLatest = sync.OnceValue(func() int64 {
	m, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(fmt.Sprintf("river migrations: %v", err))
	}
	all := m.AllVersions()
	return int64(all[len(all)-1].Version)
})

// newInserter returns the River client the workflows insert jobs with. It
// works no jobs (a Worker does) and is never started.
func newInserter() *river.Client[pgx.Tx] {
	c, err := river.NewClient(riverpgxv5.New(nil), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(fmt.Sprintf("river insert-only client: %v", err)) // only a bad Config fails
	}
	return c
}

// enqueue inserts a mail job in tx: it runs only if tx commits.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, args river.JobArgs) error {
	_, err := s.jobs.InsertTx(ctx, tx, args, nil)
	s.meters.mailQueued(err)
	return err
}

// WorkerConfig tunes a Worker. The zero value is fine for production.
type WorkerConfig struct {
	// MaxWorkers bounds the jobs run at once by this instance (default 10).
	MaxWorkers int
	// FetchPollInterval is how often the queue is polled when no insert
	// notification arrives (River's default, 1 s, when zero).
	FetchPollInterval time.Duration
	// PollOnly polls instead of LISTENing for inserts (tests, poolers).
	PollOnly bool
	// PurgeInterval is how often the leader inserts a purge job (default a
	// minute); negative disables the periodic purge.
	PurgeInterval time.Duration
	// ID names this instance among River's clients (default: River's).
	ID string
}

// Worker runs the jobs of the queue: it sends mail and, when this instance
// is River's elected leader, purges what expired. Any number of instances
// run one each; River hands each job to one of them at a time.
type Worker struct {
	client *river.Client[pgx.Tx]
}

// NewWorker returns a Worker that sends through sender. Start starts it.
func (s *Service) NewWorker(sender mail.Sender, cfg WorkerConfig) (*Worker, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &mailWorker[verifyEmailArgs]{s: s, sender: sender, prepare: s.prepareVerification})
	river.AddWorker(workers, &mailWorker[resetPasswordArgs]{s: s, sender: sender, prepare: s.prepareReset})
	river.AddWorker(workers, &mailWorker[accountExistsArgs]{s: s, sender: sender,
		prepare: func(_ context.Context, job *river.Job[accountExistsArgs]) (*mail.Message, error) {
			m, err := mail.AccountExists(job.Args.To, s.link("/reset-password", ""))
			return &m, err
		}})
	river.AddWorker(workers, &mailWorker[passwordChangedArgs]{s: s, sender: sender,
		prepare: func(_ context.Context, job *river.Job[passwordChangedArgs]) (*mail.Message, error) {
			m, err := mail.PasswordChanged(job.Args.To)
			return &m, err
		}})
	river.AddWorker(workers, &mailWorker[mfaResetArgs]{s: s, sender: sender,
		prepare: func(_ context.Context, job *river.Job[mfaResetArgs]) (*mail.Message, error) {
			m, err := mail.MFAReset(job.Args.To)
			return &m, err
		}})
	river.AddWorker(workers, &purgeWorker{s: s})
	s.addEmailChangeWorkers(workers, sender) // magic links and email changes (issue 11)

	rc := &river.Config{
		ID:                cfg.ID,
		Logger:            s.log,
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: orDefault(cfg.MaxWorkers, 10)}},
		FetchPollInterval: cfg.FetchPollInterval,
		PollOnly:          cfg.PollOnly,
		// A mail job sends one message; a stuck one is taken over by
		// another instance after this long.
		JobTimeout:           time.Minute,
		RescueStuckJobsAfter: 5 * time.Minute,
	}
	if cfg.FetchPollInterval > 0 && cfg.FetchPollInterval < 100*time.Millisecond {
		rc.FetchCooldown = cfg.FetchPollInterval
	}
	if cfg.PurgeInterval >= 0 {
		rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(
			river.PeriodicInterval(orDefault(cfg.PurgeInterval, time.Minute)),
			func() (river.JobArgs, *river.InsertOpts) {
				// One purge at a time: a slow one is not stacked on.
				return purgeArgs{}, &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{
					ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
						rivertype.JobStateRunning, rivertype.JobStateScheduled},
				}}
			},
			&river.PeriodicJobOpts{ID: kindPurge, RunOnStart: true},
		)}
	}
	c, err := river.NewClient(riverpgxv5.New(s.pool), rc)
	if err != nil {
		return nil, err
	}
	return &Worker{client: c}, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Start starts fetching and working jobs; it returns at once. Jobs stop
// being fetched when ctx ends or Stop is called.
func (w *Worker) Start(ctx context.Context) error { return w.client.Start(ctx) }

// Stop stops fetching jobs and waits for those running to finish, until
// ctx ends.
func (w *Worker) Stop(ctx context.Context) error { return w.client.Stop(ctx) }

// Client is the River client, for tests and operators' tools.
func (w *Worker) Client() *river.Client[pgx.Tx] { return w.client }

// purgeWorker runs Purge. The first purge after a long pause may have much
// to delete, so it gets more time than a mail (yet less than River waits
// before it takes a job over as stuck).
type purgeWorker struct {
	river.WorkerDefaults[purgeArgs]
	s *Service
}

func (w *purgeWorker) Timeout(*river.Job[purgeArgs]) time.Duration { return 4 * time.Minute }

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeArgs]) error { return w.s.Purge(ctx) }

// mailWorker works one kind of mail job: prepare finds what to send (nil:
// nothing, the job completes) and the worker sends it.
type mailWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	s       *Service
	sender  mail.Sender
	prepare func(ctx context.Context, job *river.Job[T]) (*mail.Message, error)
}

// errWait is prepare's answer when the one-mail-a-minute limit holds the
// mail back: the job waits (snoozes) that long and tries again.
type errWait struct{ d time.Duration }

func (e *errWait) Error() string { return fmt.Sprintf("mail held back for %v", e.d) }

func (w *mailWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	m, err := w.prepare(ctx, job)
	var wait *errWait
	switch {
	case errors.As(err, &wait):
		w.s.meters.mailResult("delayed")
		return river.JobSnooze(max(wait.d, time.Second))
	case err != nil:
		return err // River retries with backoff
	case m == nil:
		w.s.meters.mailResult("skipped")
		return nil
	}
	// The send outlives a shutdown's cancellation, so a message already
	// handed to the SMTP server is not reported as failed.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	err = w.sender.Send(sendCtx, *m)
	cancel()
	switch {
	case err == nil:
		w.s.meters.mailResult("sent")
		return nil
	case mail.Permanent(err):
		w.s.log.Error("mail refused; not retried", "job", job.ID, "kind", job.Kind, "err", err)
		w.s.meters.mailResult("failed")
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		w.s.log.Error("mail given up", "job", job.ID, "kind", job.Kind, "attempts", job.Attempt, "err", err)
		w.s.meters.mailResult("failed")
		return err
	default:
		w.s.log.Warn("mail send failed; will retry", "job", job.ID, "kind", job.Kind, "attempt", job.Attempt, "err", err)
		w.s.meters.mailResult("retry")
		return err
	}
}

// prepareVerification issues the verification mail for the pending
// registration of the job's email, in one transaction: nothing when there
// is none (unknown, expired, now an account) or a newer job for the address
// will send it; a wait when a verification mail went to the address less
// than a minute ago. Otherwise it extends the registration, voids every
// earlier verification token for the email, stores the new token's hash and
// returns the mail carrying the token.
func (s *Service) prepareVerification(ctx context.Context, job *river.Job[verifyEmailArgs]) (*mail.Message, error) {
	email := job.Args.Email
	return s.mailJobTx(ctx, job.JobRow, email, func(q *db.Queries) (*mail.Message, error) {
		pre, err := q.GetPreregistrationByEmail(ctx, email)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		now := s.now()
		if pre.ExpiresAt != nil && !pre.ExpiresAt.After(now) {
			return nil, nil
		}
		if taken, err := emailTaken(ctx, q, email); err != nil || taken {
			return nil, err
		}
		if err := s.mailAllowed(ctx, q, "mail:verify:"+email); err != nil {
			return nil, err
		}
		if _, err := q.SetPreregistrationExpiry(ctx, db.SetPreregistrationExpiryParams{
			ID: pre.ID, ExpiresAt: ptr(now.Add(s.cfg.VerifyTTL)),
		}); err != nil {
			return nil, err
		}
		if _, err := q.DeleteVerifyTokensForEmail(ctx, pre.Email); err != nil {
			return nil, err
		}
		token, err := s.storeToken(ctx, q, pre.Email, purposeVerifyEmail, s.cfg.VerifyTTL, &pre.ID, nil)
		if err != nil {
			return nil, err
		}
		msg, err := mail.VerifyEmail(pre.Email, pre.FullName, s.link("/verify-email", token), s.cfg.VerifyTTL)
		return &msg, err
	})
}

// prepareReset issues the reset mail for the account of the job's email,
// in one transaction: nothing when there is none or a newer job for the
// address will send it; a wait when a reset mail went to the address less
// than a minute ago. Otherwise it voids the user's earlier reset tokens,
// stores the new token's hash, records the request in the audit trail and
// returns the mail carrying the token.
func (s *Service) prepareReset(ctx context.Context, job *river.Job[resetPasswordArgs]) (*mail.Message, error) {
	email := job.Args.Email
	return s.mailJobTx(ctx, job.JobRow, email, func(q *db.Queries) (*mail.Message, error) {
		user, err := q.GetUserByEmail(ctx, email)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if err := s.mailAllowed(ctx, q, "mail:reset:"+email); err != nil {
			return nil, err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &user.ID, Purpose: purposeResetPassword,
		}); err != nil {
			return nil, err
		}
		token, err := s.storeToken(ctx, q, email, purposeResetPassword, s.cfg.ResetTTL, nil, &user.ID)
		if err != nil {
			return nil, err
		}
		meta := Meta{IP: job.Args.IP, UserAgent: job.Args.UserAgent}
		if err := s.audit(ctx, q, user.ID, user.ID, "password_reset_requested", meta, ""); err != nil {
			return nil, err
		}
		msg, err := mail.ResetPassword(user.Email, s.link("/reset-password", token), s.cfg.ResetTTL)
		return &msg, err
	})
}

// mailJobTx runs prepare in one transaction under the lock of the job's
// email, the order every workflow takes, unless a newer job of the same
// kind for the address will send the current mail (newerMailJob): then it
// returns no message. A mail job that prepares nothing sends nothing.
func (s *Service) mailJobTx(ctx context.Context, job *rivertype.JobRow, email string,
	prepare func(q *db.Queries) (*mail.Message, error)) (*mail.Message, error) {
	var m *mail.Message
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := q.LockEmail(ctx, email); err != nil {
			return err
		}
		if newer, err := newerMailJob(ctx, tx, job, email); err != nil || newer {
			return err
		}
		var err error
		m, err = prepare(q)
		return err
	})
	return m, err
}

// mailAllowed counts a mail against key's one-a-minute limit, or answers
// an errWait for the rest of the minute (the caller's transaction then
// rolls back, so the wait is not counted).
func (s *Service) mailAllowed(ctx context.Context, q *db.Queries, key string) error {
	ok, retry, err := s.hit(ctx, q, key, limitMail)
	if err != nil {
		return err
	}
	if !ok {
		return &errWait{d: retry}
	}
	return nil
}

// newerMailJob reports whether a job of the same kind for the same address
// was inserted after job and is still in the table (whatever its state):
// that one sends, or sent, the current mail, so this one sends nothing.
// The caller holds the email's lock, which a registration takes too, so a
// newer registration's job either is visible here or is inserted after
// this job's token exists (and its registration has voided it). Resend and
// forgot-password change nothing, so whichever of their jobs sends, it
// sends the current state.
func newerMailJob(ctx context.Context, tx pgx.Tx, job *rivertype.JobRow, email string) (bool, error) {
	match, err := json.Marshal(map[string]string{"email": email})
	if err != nil {
		return false, err
	}
	var newer bool
	// river_job_args_index (GIN on args) serves the containment test.
	err = tx.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = $1 AND id > $2 AND args @> $3::jsonb)",
		job.Kind, job.ID, string(match)).Scan(&newer)
	return newer, err
}
