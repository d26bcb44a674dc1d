// Package devpg runs a private, throwaway PostgreSQL cluster for development
// and tests, from the PostgreSQL binaries installed on the machine.
//
// The cluster lives in a data folder of its own and listens only on a Unix
// socket, so it never clashes with another server's port. It is reused across
// runs while its folder is there. PostgreSQL refuses to run as root, so when
// the caller is root the cluster is created and started as an unprivileged
// user ("postgres" when that account exists, else "nobody"), and its folder is
// placed under the temporary folder, which that user can reach.
package devpg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (initdb, pg_ctl): install them, e.g. apt-get install postgresql, or set DATABASE_URL")

// Cluster is a throwaway PostgreSQL cluster.
type Cluster struct {
	// DataDir holds the cluster's files; SocketDir its Unix socket.
	DataDir   string
	SocketDir string

	bindir string
	cred   *syscall.Credential // nil: run as the current user
}

// Locate describes the cluster for the project folder dir without starting it.
// The cluster's folder is dir/.pgdata, or, when running as root, a folder
// under the temporary folder named after dir.
func Locate(dir string) (*Cluster, error) {
	bindir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	tag := hex.EncodeToString(sum[:])[:12]
	// Unix socket paths are limited to about 100 bytes, so the socket
	// always lives in a short folder under the temporary folder.
	c := &Cluster{
		bindir:    bindir,
		DataDir:   filepath.Join(abs, ".pgdata"),
		SocketDir: filepath.Join(os.TempDir(), "nextsecure-pg-"+tag),
	}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		c.cred = cred
		c.DataDir = filepath.Join(os.TempDir(), "nextsecure-pgdata-"+tag)
	}
	return c, nil
}

// URL is the connection string for database name on the cluster.
func (c *Cluster) URL(name string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + name}
	u.RawQuery = url.Values{"host": {c.SocketDir}, "sslmode": {"disable"}}.Encode()
	return u.String()
}

// Start creates the cluster if it does not exist and starts it if it is not
// running. It is safe to call from several processes at once.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.mkdir(c.SocketDir); err != nil {
		return err
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()

	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		// C.UTF-8 sorts like C but lower() folds every letter, not only
		// ASCII; where the system lacks it, plain C will do.
		err := c.initdb(ctx, "C.UTF-8")
		if err != nil {
			err = c.initdb(ctx, "C")
		}
		if err != nil {
			return fmt.Errorf("initdb: %w", err)
		}
	}
	if c.run(ctx, "pg_ctl", "status", "-D", c.DataDir) == nil {
		return nil
	}
	opts := strings.Join([]string{
		"-c listen_addresses=''",
		"-c unix_socket_directories=" + c.SocketDir,
		"-c max_connections=200",
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
		"-c shared_buffers=128MB",
	}, " ")
	err = c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.DataDir,
		"-l", filepath.Join(c.DataDir, "server.log"), "-o", opts)
	if err != nil {
		return fmt.Errorf("pg_ctl start (log in %s): %w", filepath.Join(c.DataDir, "server.log"), err)
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context, locale string) error {
	if err := os.RemoveAll(c.DataDir); err != nil {
		return err
	}
	if err := c.mkdir(c.DataDir); err != nil {
		return err
	}
	return c.run(ctx, "initdb", "-D", c.DataDir, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale="+locale, "--no-sync")
}

// Stop stops the cluster if it runs, keeping its files.
func (c *Cluster) Stop(ctx context.Context) error {
	if c.run(ctx, "pg_ctl", "status", "-D", c.DataDir) != nil {
		return nil
	}
	return c.run(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", c.DataDir)
}

// Ensure locates and starts the cluster for the project folder dir.
func Ensure(ctx context.Context, dir string) (*Cluster, error) {
	c, err := Locate(dir)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// ProjectDir is the folder holding go.mod above the working folder, or the
// working folder itself.
func ProjectDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, name), args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return nil
}

// mkdir creates dir, owned by the user that runs the cluster, mode 0700.
func (c *Cluster) mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o700)
}

// lock takes an exclusive lock shared by every process using this cluster.
func (c *Cluster) lock() (func(), error) {
	f, err := os.OpenFile(c.SocketDir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and no unprivileged user (postgres or nobody) to run PostgreSQL as")
}

// debianBinDirs is where Debian and Ubuntu install each PostgreSQL version.
var debianBinDirs = "/usr/lib/postgresql/*/bin"

// findBinDir finds the folder with initdb and pg_ctl: on PATH, through
// pg_config --bindir, or the newest /usr/lib/postgresql/*/bin.
func findBinDir() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(debianBinDirs)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func version(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}
