package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/docs"
	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/service"
	"github.com/nextsecure/nextsecure/service/httpapi"
)

func cmdServe(ctx context.Context, args []string, env lookup, stdout, stderr io.Writer) error {
	var cfg config
	if err := cfg.load(env); err != nil {
		return err
	}
	fs := newFlagSet("serve", stderr)
	cfg.bind(fs, env)
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations at start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := newLogger(stderr)

	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if !*noMigrate {
		m, err := migrate.FromPool(pool)
		if err != nil {
			return err
		}
		n, err := m.Up(ctx)
		m.Close()
		if err != nil {
			return err
		}
		if n > 0 {
			logger.Info("applied migrations", "count", n)
		}
	}

	var sender mail.Sender
	if cfg.EmailServer == "" {
		logger.Warn("EMAIL_SERVER is not set: emails are written to this log instead of being sent")
		sender = mail.NewLog(logger)
	} else if sender, err = mail.NewSMTP(cfg.EmailServer, cfg.EmailFrom); err != nil {
		return fmt.Errorf("EMAIL_SERVER: %w", err)
	}
	if !cfg.RateLimits {
		logger.Warn("RATE_LIMITS=off: every throttle is disabled (benchmarks only)")
	}

	svc := service.New(pool, service.Config{
		BaseURL: cfg.BaseURL, VerifyTTL: cfg.VerifyTTL, ResetTTL: cfg.ResetTTL, SessionTTL: cfg.SessionTTL,
		MagicLinkTTL:  cfg.MagicLinkTTL,
		SessionMaxTTL: cfg.SessionMaxTTL, RateLimits: cfg.RateLimits, HashWait: time.Second,
		HashRefusePace: time.Second,
		Secrets:        cfg.Secrets, AuditRetention: cfg.AuditRetention, Providers: cfg.Providers,
	}, time.Now, logger)
	defer svc.Close()
	for _, p := range cfg.Providers {
		logger.Info("sign-in provider", "id", p.ID, "type", p.Type, "callback", cfg.BaseURL+"/v1/auth/oauth/"+p.ID+"/callback")
	}
	handler := httpapi.New(svc, httpapi.Config{
		BaseURL: cfg.BaseURL, TrustedProxies: cfg.TrustedProxies, SchemaVersion: migrate.Latest(),
		OpenAPI: docs.OpenAPI, Pages: cfg.Pages,
	}, logger)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// The job worker (mail, and the periodic purge when this instance is
	// River's leader) stops after the server drained, finishing the jobs
	// it holds.
	worker, err := svc.NewWorker(sender, service.WorkerConfig{})
	if err != nil {
		return err
	}
	if err := worker.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	stopWorker := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		if err := worker.Stop(stopCtx); err != nil {
			logger.Warn("job worker stop", "err", err)
		}
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "base_url", cfg.BaseURL)

	select {
	case err := <-serveErr:
		stopWorker()
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	handler.SetDraining()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopWorker()
	logger.Info("stopped")
	return err
}

// openPool opens the database pool. Unless the URL sets them, the pool is
// sized for a busy server and connects with a short timeout, so an outage
// answers quickly instead of hanging requests.
func openPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if !hasParam(dsn, "pool_max_conns") {
		pc.MaxConns = 32
	}
	// Keep a few connections open, so the first requests after a start or
	// a quiet spell do not each wait for a new PostgreSQL connection.
	if !hasParam(dsn, "pool_min_conns") {
		pc.MinConns = min(4, pc.MaxConns)
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	return pool, nil
}

func hasParam(dsn, name string) bool {
	return strings.Contains(dsn, name+"=") || strings.Contains(dsn, name+" =")
}

// newLogger logs JSON, or text when stderr is a terminal, and tags every
// line logged in a request with its request id.
func newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			h = slog.NewTextHandler(w, opts)
		}
	}
	return slog.New(httpapi.LogHandler{Handler: h})
}
