package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/db"
)

// bareServe is the "bare-serve" sub-command: the floors for GET /v1/me and
// GET /healthz. A minimal net/http handler that, for /healthz, writes
// {"status":"ok"} and, for anything else, runs the one query the server's
// Authenticate runs (db.GetSessionUser) with a pool of the server's size and
// writes the user as JSON: no router, middleware, metrics or session touch.
// Its http.Server has the timeouts of nextsecure's (each costs a deadline
// update per request), so the floors differ from the server by the
// handler chain only. It runs as a process of its own, like the server, so
// both pay the same cross-process costs.
func bareServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadbench bare-serve", flag.ContinueOnError)
	dsn := fs.String("database-url", "", "PostgreSQL connection string")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pc, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		return err
	}
	pc.MaxConns = 32 // as cmd/nextsecure's openPool
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer pool.Close()
	q := db.New(pool)

	type userJSON struct {
		ID            string     `json:"id"`
		Name          *string    `json:"name"`
		Email         string     `json:"email"`
		EmailVerified *time.Time `json:"emailVerified"`
		Image         *string    `json:"image"`
		IsActive      bool       `json:"isActive"`
		Role          string     `json:"role"`
		HasPassword   bool       `json:"hasPassword"`
		Accounts      []string   `json:"accounts"`
		CreatedAt     time.Time  `json:"createdAt"`
		UpdatedAt     time.Time  `json:"updatedAt"`
	}
	healthz := []byte(`{"status":"ok"}` + "\n")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set("Content-Type", "application/json")
			w.Write(healthz)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(token))
		row, err := q.GetSessionUser(r.Context(), db.GetSessionUserParams{TokenHash: sum[:], Now: time.Now()})
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		u := row.UserProfile
		json.NewEncoder(w).Encode(userJSON{
			ID: u.ID, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified, Image: u.Image,
			IsActive: u.IsActive, Role: u.Role, HasPassword: u.HasPassword,
			Accounts: u.AccountProviders, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		})
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The timeouts of cmd/nextsecure's serve.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runBare starts this program's bare-serve sub-command on the bench database
// and drives it like the server's scenario name ("me" or "healthz").
func runBare(ctx context.Context, name, dsn string, sd seedData, clients int, d time.Duration, cp cpuProbe, wc wrkConfig) (cell, error) {
	self, err := os.Executable()
	if err != nil {
		return cell{}, err
	}
	port, err := freePort()
	if err != nil {
		return cell{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(self, "bare-serve", "-database-url", dsn, "-addr", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return cell{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()

	sc := newScenario(name, "http://"+addr, sd)
	sc.label += " (bare)"
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return cell{}, fmt.Errorf("bare-serve exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return cell{}, errors.New("bare-serve did not listen within 15s")
		}
	}
	if why := probe(ctx, sc); why != "" {
		return cell{}, errors.New(why)
	}
	cp.server = cmd.Process.Pid
	return attack(ctx, sc, clients, d, cp, wc)
}
