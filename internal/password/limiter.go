package password

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by Limiter.Do when no slot freed up within the
// limiter's maximum wait, or when so many callers wait already that this
// one could not expect a slot within it.
var ErrBusy = errors.New("password: too many concurrent hash operations")

// Limiter bounds how many password hash operations run at once (argon2id
// uses 19 MiB each). Its methods are safe for concurrent use.
type Limiter struct {
	// OnWait, if non-nil, is called by every Do with the time it spent
	// waiting for a slot, including waits that ended in an error. Set it
	// before the Limiter is first used.
	OnWait func(time.Duration)
	// Pace, if positive, is how long a caller refused for its expected
	// wait is held before it hears ErrBusy. Clients that retry at once
	// (most do, whatever Retry-After says) would otherwise turn each
	// refusal into another request, and a storm of cheap refusals takes
	// the CPUs from the hashes of the callers admitted. Set it before the
	// Limiter is first used.
	Pace time.Duration

	slots   chan struct{}
	maxWait time.Duration
	waiting atomic.Int64
	// held is a moving average of how long fn holds a slot, in
	// nanoseconds (0 until one has run): with the queue's length it tells
	// a new caller how long it should expect to wait.
	held atomic.Int64
}

// NewLimiter returns a Limiter that runs at most slots functions at once
// (runtime.GOMAXPROCS(0) if slots <= 0) and makes callers wait at most
// maxWait for a slot (not at all if maxWait <= 0).
func NewLimiter(slots int, maxWait time.Duration) *Limiter {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	return &Limiter{slots: make(chan struct{}, slots), maxWait: maxWait}
}

// Do runs fn once a slot is free. It returns ErrBusy if no slot frees up
// within the maximum wait, or at once when the callers already waiting
// would, at the recent pace, keep this one waiting longer than that; or
// ctx.Err() if ctx is done first. fn is then not run.
//
// Refusing at once what would be refused later anyway keeps the wait of
// the callers it admits within the maximum under any overload, and spares
// the refused ones a wait that ends in ErrBusy.
func (l *Limiter) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err := l.acquire(ctx)
	if l.OnWait != nil {
		l.OnWait(time.Since(start))
	}
	if err != nil {
		return err
	}
	defer func() { <-l.slots }()
	began := time.Now()
	fn()
	l.observe(time.Since(began))
	return nil
}

// Admit reports ErrBusy when a caller arriving now would be refused for
// its expected wait, without taking a place: a handler asks before its
// other work, so that under overload a refusal costs next to nothing and
// leaves the CPUs to the hashes of the callers admitted.
func (l *Limiter) Admit(ctx context.Context) error {
	if len(l.slots) < cap(l.slots) {
		return nil
	}
	if l.maxWait <= 0 || l.expectedWait(l.waiting.Load()+1) > l.maxWait {
		return l.refuse(ctx)
	}
	return nil
}

// refuse holds a refused caller for Pace (or until ctx is done), then
// returns ErrBusy.
func (l *Limiter) refuse(ctx context.Context) error {
	if l.Pace > 0 {
		t := time.NewTimer(l.Pace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return ErrBusy
}

// observe adds one hold time to the moving average. Its weight, 1/32,
// is small: one hash slowed by a pause (a GC, a busy core) must not make
// the limiter refuse callers it can serve in time.
func (l *Limiter) observe(d time.Duration) {
	for {
		old := l.held.Load()
		next := int64(d)
		if old > 0 {
			next = old + (int64(d)-old)/32
		}
		if l.held.CompareAndSwap(old, next) {
			return
		}
	}
}

// expectedWait is how long the caller at position (1: first in line)
// should wait for a slot at the recent pace.
func (l *Limiter) expectedWait(position int64) time.Duration {
	slots := int64(cap(l.slots))
	rounds := (position + slots - 1) / slots
	return time.Duration(rounds * l.held.Load())
}

func (l *Limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	if l.maxWait <= 0 {
		return ErrBusy
	}
	position := l.waiting.Add(1)
	if l.expectedWait(position) > l.maxWait {
		l.waiting.Add(-1) // not waiting for a slot while it is held
		return l.refuse(ctx)
	}
	defer l.waiting.Add(-1)
	timer := time.NewTimer(l.maxWait)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Waiting returns the number of Do calls currently waiting for a slot.
func (l *Limiter) Waiting() int { return int(l.waiting.Load()) }

// InUse returns the number of slots currently taken.
func (l *Limiter) InUse() int { return len(l.slots) }
