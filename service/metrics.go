package service

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the service's Prometheus collectors: the database
// pool's use.
func (s *Service) Collectors() []prometheus.Collector {
	stat := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	return []prometheus.Collector{
		stat("nextsecure_db_pool_acquired_conns", "Connections in use.", func() float64 { return float64(s.pool.Stat().AcquiredConns()) }),
		stat("nextsecure_db_pool_idle_conns", "Idle connections.", func() float64 { return float64(s.pool.Stat().IdleConns()) }),
		stat("nextsecure_db_pool_total_conns", "Open connections.", func() float64 { return float64(s.pool.Stat().TotalConns()) }),
		stat("nextsecure_db_pool_max_conns", "Pool size.", func() float64 { return float64(s.pool.Stat().MaxConns()) }),
	}
}
