package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nextsecure/nextsecure/internal/secrets"
)

// server is the nextsecure process under test.
type server struct {
	cmd      *exec.Cmd
	base     string // http://127.0.0.1:port
	exited   chan struct{}
	exitErr  error
	stopOnce sync.Once
	stopErr  error
}

// serverEnv is the environment without the settings the bench controls, so a
// caller's DATABASE_URL or EMAIL_SERVER never leaks into the measurement.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL", "ADDR", "BASE_URL", "EMAIL_SERVER", "EMAIL_FROM", "RATE_LIMITS",
			"TRUSTED_PROXIES", "VERIFY_TOKEN_TTL", "RESET_TOKEN_TTL", "SESSION_TTL", "AUTH_SECRET",
			"MAGIC_LINK_TTL", "SESSION_MAX_TTL":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// authSecret is the AUTH_SECRET of every server this run starts: one per
// run, so servers restarted on the same database open what others sealed.
var authSecret = sync.OnceValue(secrets.Generate)

// startServer starts "bin serve" on a free loopback port with rate limits
// off and mail going to its log, and waits until /readyz answers 200.
func startServer(ctx context.Context, bin, dsn, logPath string, extraEnv []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = os.TempDir() // no stray .env from the working folder
	cmd.Env = append(serverEnv(),
		"DATABASE_URL="+dsn, "ADDR="+addr, "BASE_URL=http://"+addr, "RATE_LIMITS=off", "AUTH_SECRET="+authSecret())
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us, not it
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr, exited: make(chan struct{})}
	go func() {
		s.exitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()

	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("server exited before it was ready (%v); see %s", s.exitErr, logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server not ready after 30s; see %s", logPath)
		}
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM (graceful shutdown) and waits, then SIGKILL after 35s.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(35 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("server did not stop within 35s of SIGTERM; killed")
			return
		}
		var ee *exec.ExitError
		if s.exitErr != nil && !errors.As(s.exitErr, &ee) {
			s.stopErr = s.exitErr
		} else if ee != nil && ee.ExitCode() != 0 {
			s.stopErr = fmt.Errorf("server exited with status %d", ee.ExitCode())
		}
	})
	return s.stopErr
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
