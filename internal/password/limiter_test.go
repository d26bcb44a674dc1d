package password_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nextsecure/nextsecure/internal/password"
)

// hold occupies one slot of l until the returned release func is called.
// It must run inside a synctest bubble.
func hold(t *testing.T, l *password.Limiter) (release func()) {
	t.Helper()
	unblock := make(chan struct{})
	done := make(chan error)
	go func() { done <- l.Do(context.Background(), func() { <-unblock }) }()
	synctest.Wait()
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("holder Do = %v, want nil", err)
		}
	}
}

func TestLimiterBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var waits []time.Duration
		l := password.NewLimiter(1, 50*time.Millisecond)
		l.OnWait = func(d time.Duration) { waits = append(waits, d) }
		release := hold(t, l)
		if got := l.InUse(); got != 1 {
			t.Errorf("InUse = %d, want 1", got)
		}

		err := l.Do(context.Background(), func() { t.Error("fn ran without a free slot") })
		if !errors.Is(err, password.ErrBusy) {
			t.Errorf("Do = %v, want ErrBusy", err)
		}

		release()
		ran := false
		if err := l.Do(context.Background(), func() { ran = true }); err != nil || !ran {
			t.Errorf("Do after release = %v (ran %v), want nil (ran true)", err, ran)
		}
		if got := l.InUse(); got != 0 {
			t.Errorf("InUse = %d, want 0", got)
		}
		// Fake (synctest) clock: the busy call waited exactly maxWait.
		want := []time.Duration{0, 50 * time.Millisecond, 0}
		if len(waits) != len(want) || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
			t.Errorf("OnWait got %v, want %v", waits, want)
		}
	})
}

func TestLimiterWaitsForSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := password.NewLimiter(1, time.Hour)
		release := hold(t, l)
		done := make(chan error)
		go func() { done <- l.Do(context.Background(), func() {}) }()
		synctest.Wait()
		if got := l.Waiting(); got != 1 {
			t.Errorf("Waiting = %d, want 1", got)
		}
		release()
		if err := <-done; err != nil {
			t.Errorf("Do = %v, want nil", err)
		}
		if got := l.Waiting(); got != 0 {
			t.Errorf("Waiting = %d, want 0", got)
		}
	})
}

func TestLimiterNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := password.NewLimiter(1, 0)
		release := hold(t, l)
		defer release()
		if err := l.Do(context.Background(), func() {}); !errors.Is(err, password.ErrBusy) {
			t.Errorf("Do = %v, want ErrBusy", err)
		}
	})
}

func TestLimiterContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := password.NewLimiter(1, time.Hour)
		release := hold(t, l)
		defer release()

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- l.Do(ctx, func() { t.Error("fn ran after cancel") }) }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want context.Canceled", err)
		}

		// Already done: fn is not run even though waiting would be allowed.
		if err := l.Do(ctx, func() { t.Error("fn ran with done ctx") }); !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want context.Canceled", err)
		}
	})
}

func TestLimiterDefaultSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := password.NewLimiter(0, time.Millisecond)
		n := runtime.GOMAXPROCS(0)
		var releases []func()
		for range n {
			releases = append(releases, hold(t, l))
		}
		if got := l.InUse(); got != n {
			t.Errorf("InUse = %d, want %d", got, n)
		}
		if err := l.Do(context.Background(), func() {}); !errors.Is(err, password.ErrBusy) {
			t.Errorf("Do = %v, want ErrBusy", err)
		}
		for _, release := range releases {
			release()
		}
	})
}

func TestLimiterReleasesOnPanic(t *testing.T) {
	l := password.NewLimiter(1, 0)
	func() {
		defer func() { recover() }()
		l.Do(context.Background(), func() { panic("boom") })
	}()
	if err := l.Do(context.Background(), func() {}); err != nil {
		t.Errorf("Do after panic = %v, want nil", err)
	}
}

// A caller that the queue ahead of it would keep waiting past the maximum,
// at the pace of the recent hashes, is refused at once; the callers
// already admitted still get their slots.
func TestLimiterShedsWhatCannotBeServedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := password.NewLimiter(1, 250*time.Millisecond)
		var waits []time.Duration
		// Hashes of 100 ms set the pace.
		for range 3 {
			if err := l.Do(context.Background(), func() { time.Sleep(100 * time.Millisecond) }); err != nil {
				t.Fatal(err)
			}
		}
		l.OnWait = func(d time.Duration) { waits = append(waits, d) }
		unblock := make(chan struct{})
		held := make(chan error)
		go func() { held <- l.Do(context.Background(), func() { <-unblock }) }()
		synctest.Wait()

		// Two callers expect 100 and 200 ms: they wait.
		queued := make(chan error, 2)
		for range 2 {
			go func() { queued <- l.Do(context.Background(), func() { time.Sleep(100 * time.Millisecond) }) }()
			synctest.Wait()
		}
		if got := l.Waiting(); got != 2 {
			t.Fatalf("Waiting = %d, want 2", got)
		}
		// A third would expect 300 ms: refused without waiting.
		err := l.Do(context.Background(), func() { t.Error("fn ran past the queue") })
		if !errors.Is(err, password.ErrBusy) {
			t.Fatalf("Do with 2 queued = %v, want ErrBusy", err)
		}
		if len(waits) != 2 || waits[1] != 0 {
			// waits[0] is the holder's (0); the refused one waited 0 too.
			t.Fatalf("waits %v, want the refusal at once", waits)
		}
		time.Sleep(50 * time.Millisecond)
		close(unblock)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-queued; err != nil {
				t.Errorf("a queued caller got %v, want its slot", err)
			}
		}
	})
}

// Admit refuses a caller the slots could not serve within the maximum
// wait, as Do does, and a refused caller is held for Pace before it hears
// so, so that clients retrying at once cannot turn refusals into a storm.
func TestLimiterAdmitAndPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := password.NewLimiter(1, 150*time.Millisecond)
		l.Pace = time.Second
		if err := l.Admit(context.Background()); err != nil {
			t.Fatalf("Admit with a free slot = %v", err)
		}
		// Hashes of 200 ms: the next caller would wait longer than 150 ms.
		if err := l.Do(context.Background(), func() { time.Sleep(200 * time.Millisecond) }); err != nil {
			t.Fatal(err)
		}
		release := hold(t, l)
		began := time.Now()
		if err := l.Admit(context.Background()); !errors.Is(err, password.ErrBusy) || time.Since(began) != time.Second {
			t.Fatalf("Admit = %v after %v, want ErrBusy after the 1 s pace", err, time.Since(began))
		}
		began = time.Now()
		err := l.Do(context.Background(), func() { t.Error("fn ran past the queue") })
		if !errors.Is(err, password.ErrBusy) || time.Since(began) != time.Second {
			t.Fatalf("refused Do = %v after %v, want ErrBusy after the 1 s pace", err, time.Since(began))
		}
		if got := l.Waiting(); got != 0 {
			t.Fatalf("Waiting = %d after refusals, want 0", got)
		}
		// A refused caller whose request ends stops waiting then.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		began = time.Now()
		if err := l.Admit(ctx); !errors.Is(err, password.ErrBusy) || time.Since(began) != 10*time.Millisecond {
			t.Fatalf("Admit with a 10 ms deadline = %v after %v, want ErrBusy after 10 ms", err, time.Since(began))
		}
		release()
		if err := l.Admit(context.Background()); err != nil {
			t.Fatalf("Admit with the slot free again = %v", err)
		}
	})
}
