package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/nextsecure/nextsecure/internal/password"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// rssSampler tracks a process's peak resident set during a cell: it resets
// the kernel's high-water mark (clear_refs 5) at the start, polls VmRSS every
// 100 ms, and at the end takes the larger of the polled peak and VmHWM.
type rssSampler struct {
	pid  int
	max  atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func startRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) // best effort
	s.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := procStatusKiB(pid, "VmRSS"); v > s.max.Load() {
				s.max.Store(v)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	})
	return s
}

// stop returns the peak RSS in KiB.
func (s *rssSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	return max(s.max.Load(), procStatusKiB(s.pid, "VmHWM"))
}

// procStatusKiB reads a "Name:   123 kB" line of /proc/pid/status.
func procStatusKiB(pid int, name string) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseUint(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// cpuSample is cumulative CPU time in clock ticks.
type cpuSample struct {
	busy, server, self, pg uint64
	gen                    uint64 // the wrk process (set by attack from its rusage)
	serverFaults           uint64 // the server's minor page faults
}

// cpuShare is CPU use over an interval, in cores: the server process (or
// the bare handler), the load generator (the wrk process, plus this
// process's own sampling, a few thousandths of a core), the PostgreSQL
// processes serving the bench database (and the cluster's background
// processes), and everything else on the machine (other work sharing the
// CPUs, which makes the cell's figures unreliable when large).
type cpuShare struct {
	server, gen, pg, other float64
}

// cpuProbe says which processes to attribute CPU time to.
type cpuProbe struct {
	server     int    // server pid, 0 when none
	postmaster int    // the cluster's postmaster pid, 0 when unknown
	dbName     string // backends of this database count as PostgreSQL's
}

// postmasterPID reads the first line of dataDir/postmaster.pid.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(dataDir + "/postmaster.pid")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func (p cpuProbe) read() cpuSample {
	var s cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest (already in user)
				s.busy += n
			}
		}
	}
	s.self, _ = procTicks("self")
	if p.server > 0 {
		s.server, _ = procTicks(strconv.Itoa(p.server))
		s.serverFaults = procMinorFaults(strconv.Itoa(p.server))
	}
	if p.postmaster > 0 {
		s.pg, _ = procTicks(strconv.Itoa(p.postmaster))
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if e.Name()[0] < '0' || e.Name()[0] > '9' {
				continue
			}
			ticks, ppid := procTicks(e.Name())
			if ppid != p.postmaster {
				continue
			}
			// Backends of other databases (other people's tests on the
			// shared cluster) are not ours; background processes are.
			title, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if bytes.Contains(title, []byte("[local]")) && !bytes.Contains(title, []byte(" "+p.dbName+" ")) {
				continue
			}
			s.pg += ticks
		}
	}
	return s
}

// procTicks is utime+stime and the parent pid of /proc/<pid>/stat.
func procTicks(pid string) (ticks uint64, ppid int) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0
	}
	// The command name may hold spaces; fields restart after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:])) // state ppid ... utime(12th) stime(13th)
	if len(f) < 13 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st, ppid
}

// procMinorFaults is minflt of /proc/<pid>/stat. On a virtual machine a
// minor fault can cost microseconds, and every fresh argon2id buffer that the
// Go runtime has handed back to the kernel costs ~4,900 of them.
func procMinorFaults(pid string) uint64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp session tty tpgid flags minflt
	if len(f) < 8 {
		return 0
	}
	n, _ := strconv.ParseUint(f[7], 10, 64)
	return n
}

func (after cpuSample) since(before cpuSample, d time.Duration) cpuShare {
	ticks := d.Seconds() * clockTicks
	if ticks <= 0 {
		return cpuShare{}
	}
	diff := func(a, b uint64) float64 {
		if a < b { // a process went away
			return 0
		}
		return float64(a - b)
	}
	busy, srv, pg := diff(after.busy, before.busy), diff(after.server, before.server), diff(after.pg, before.pg)
	gen := diff(after.self, before.self) + diff(after.gen, before.gen)
	return cpuShare{server: srv / ticks, gen: gen / ticks, pg: pg / ticks,
		other: max(0, busy-srv-gen-pg) / ticks}
}

// backgroundLoad is how many cores the rest of the machine keeps busy over d
// while this process idles.
func backgroundLoad(p cpuProbe, d time.Duration) float64 {
	before := p.read()
	time.Sleep(d)
	s := p.read().since(before, d)
	return s.server + s.pg + s.other
}

// hashSample is one measurement of the hashing limit.
type hashSample struct {
	when     string // "before" or "after" scenario ("at" "the end" when none hashes)
	scenario string
	rate     float64 // password.Hash per second, as the server hashes
	faults   float64 // minor page faults per hash
	upstream float64 // golang.org/x/crypto/argon2.IDKey per second, same parameters
}

// hashLimit measures password.Hash throughput with GOMAXPROCS goroutines
// hashing in a loop for d, like BenchmarkHash's b.RunParallel: the most
// argon2id hashes per second this machine can compute.
func hashLimit(d time.Duration) hashSample {
	// One hash per goroutine first: every goroutine's work area paged in.
	warmUp(func() { password.Hash("warm-up password") })
	faults0 := procMinorFaults("self")
	n, elapsed := parallel(d, func() bool {
		_, err := password.Hash("correct horse battery staple")
		return err == nil
	})
	h := hashSample{rate: n / elapsed.Seconds(), faults: float64(procMinorFaults("self")-faults0) / max(n, 1)}
	// The same parameters through upstream x/crypto, which allocates a
	// fresh work area per hash: the limit as a plain b.RunParallel
	// benchmark of argon2.IDKey measures it (the definition).
	salt := []byte("0123456789abcdef")
	warmUp(func() { argon2.IDKey([]byte("warm-up password"), salt, 2, 19*1024, 1, 32) })
	n, elapsed = parallel(d, func() bool {
		argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 19*1024, 1, 32)
		return true
	})
	h.upstream = n / elapsed.Seconds()
	return h
}

// warmUp calls fn once on each of GOMAXPROCS goroutines at once.
func warmUp(fn func()) {
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(fn)
	}
	wg.Wait()
}

// parallel calls fn in a loop on GOMAXPROCS goroutines for d and returns
// how many calls returned true, and the time they took.
func parallel(d time.Duration, fn func() bool) (float64, time.Duration) {
	var count atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if fn() {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(count.Load()), time.Since(start)
}

// machineLine describes the machine: CPUs, model, memory, Go.
func machineLine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kib, _ := strconv.ParseFloat(f[0], 64)
					mem = fmt.Sprintf(", %.1f GiB RAM", kib/1024/1024)
				}
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s, GOMAXPROCS %d", runtime.NumCPU(), model, mem,
		runtime.Version(), runtime.GOMAXPROCS(0))
}
