package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nextsecure/nextsecure/service"
)

// metrics are the Prometheus series served at /metrics. Each API has its
// own registry, so tests can build many.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	// providerLogins counts provider callbacks by outcome (success or
	// the error code they redirect with).
	providerLogins *prometheus.CounterVec
}

func newMetrics(svc *service.Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nextsecure_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nextsecure_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nextsecure_logins_total", Help: "Sign-in attempts by outcome.",
		}, []string{"outcome"}),
		providerLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nextsecure_provider_logins_total", Help: "Provider sign-in callbacks by outcome.",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.logins, m.providerLogins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if svc != nil {
		m.reg.MustRegister(svc.Collectors()...)
	}
	return m
}

// instrument counts and times every request of one route. The counters of
// the route's statuses are looked up once each, not on every request.
func (m *metrics) instrument(method, route string, next http.Handler) http.Handler {
	lat := m.latency.WithLabelValues(method, route)
	var counters sync.Map // status -> prometheus.Counter
	count := func(status int) {
		c, ok := counters.Load(status)
		if !ok {
			c, _ = counters.LoadOrStore(status, m.requests.WithLabelValues(method, route, strconv.Itoa(status)))
		}
		c.(prometheus.Counter).Inc()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next.ServeHTTP(sw, r)
		lat.Observe(time.Since(start).Seconds())
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		count(status)
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
