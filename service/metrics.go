package service

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nextsecure/nextsecure/internal/password"
)

// meters are the series the workflows feed. Each Service has its own, and
// nothing is registered globally, so tests can build many services.
type meters struct {
	queued   prometheus.Counter
	outcomes *prometheus.CounterVec
	hashWait prometheus.Histogram
	mfa      *prometheus.CounterVec
}

func newMeters() *meters {
	m := &meters{
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nextsecure_mail_queued_total",
			Help: "Mail jobs queued (counted when inserted; a rolled-back transaction sends nothing, and a job whose address turns out unknown sends nothing).",
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nextsecure_mail_send_attempts_total",
			Help: "Mail job runs by outcome: sent, retry (send failed, will retry), failed (refused permanently or given up), delayed (held back by the one-a-minute limit) or skipped (nothing to send: unknown address, or a newer job sends).",
		}, []string{"outcome"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "nextsecure_password_hash_wait_seconds",
			Help:    "Time a password hash or check waited for a hashing slot, including waits that gave up.",
			Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	m.mfa = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextsecure_mfa_checks_total",
		Help: "Second-factor checks by kind (totp, recovery_code) and outcome (accepted, refused: wrong, used or replayed).",
	}, []string{"kind", "outcome"})
	for _, k := range []string{"totp", "recovery_code"} {
		m.mfa.WithLabelValues(k, "accepted")
		m.mfa.WithLabelValues(k, "refused")
	}
	// Start every outcome at zero, so rates work before the first failure.
	for _, o := range []string{"sent", "retry", "failed", "delayed", "skipped"} {
		m.outcomes.WithLabelValues(o)
	}
	return m
}

// mailQueued counts a message queued, unless queueing failed.
func (m *meters) mailQueued(err error) {
	if err == nil {
		m.queued.Inc()
	}
}

// mailResult counts one mail job run's outcome (mailWorker.Work).
// mfaResult counts one second-factor check.
func (m *meters) mfaResult(kind string, accepted bool) {
	outcome := "refused"
	if accepted {
		outcome = "accepted"
	}
	m.mfa.WithLabelValues(kind, outcome).Inc()
}

func (m *meters) mailResult(outcome string) { m.outcomes.WithLabelValues(outcome).Inc() }

// timeWaits makes l report its slot waits to the histogram, and returns it.
func (m *meters) timeWaits(l *password.Limiter) *password.Limiter {
	l.OnWait = func(d time.Duration) { m.hashWait.Observe(d.Seconds()) }
	return l
}

// Collectors returns the service's Prometheus collectors: mail queued and
// sent, password hashing (queue wait, callers waiting, slots in use) and the
// database pool's use.
func (s *Service) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	return []prometheus.Collector{
		s.meters.queued,
		s.meters.outcomes,
		s.meters.hashWait,
		s.meters.mfa,
		gauge("nextsecure_password_hash_waiting", "Callers waiting for a password hashing slot.",
			func() float64 { return float64(s.hashes.Waiting()) }),
		gauge("nextsecure_password_hash_in_use", "Password hashing slots in use.",
			func() float64 { return float64(s.hashes.InUse()) }),
		gauge("nextsecure_db_pool_acquired_conns", "Connections in use.", func() float64 { return float64(s.pool.Stat().AcquiredConns()) }),
		gauge("nextsecure_db_pool_idle_conns", "Idle connections.", func() float64 { return float64(s.pool.Stat().IdleConns()) }),
		gauge("nextsecure_db_pool_total_conns", "Open connections.", func() float64 { return float64(s.pool.Stat().TotalConns()) }),
		gauge("nextsecure_db_pool_max_conns", "Pool size.", func() float64 { return float64(s.pool.Stat().MaxConns()) }),
		counter("nextsecure_db_pool_acquires_total", "Connections acquired from the pool.",
			func() float64 { return float64(s.pool.Stat().AcquireCount()) }),
		counter("nextsecure_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.",
			func() float64 { return float64(s.pool.Stat().EmptyAcquireCount()) }),
		counter("nextsecure_db_pool_acquire_wait_seconds_total", "Total time spent acquiring connections.",
			func() float64 { return s.pool.Stat().AcquireDuration().Seconds() }),
	}
}
