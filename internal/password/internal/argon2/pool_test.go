// Tests of nextsecure's changes (see the top of argon2.go): the vendored
// IDKey, with and without a Pool, must match golang.org/x/crypto/argon2
// byte for byte whatever the work area held before.

package argon2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// nextsecure's parameters (internal/password).
const (
	curMemory  = 19 * 1024
	curTime    = 2
	curThreads = 1
	curKeyLen  = 32
)

type idCase struct {
	password, salt []byte
	time, memory   uint32
	threads        uint8
	keyLen         uint32
}

func (c idCase) String() string {
	return fmt.Sprintf("t=%d,m=%d,p=%d,keyLen=%d,len(password)=%d,len(salt)=%d",
		c.time, c.memory, c.threads, c.keyLen, len(c.password), len(c.salt))
}

func (c idCase) upstream() []byte {
	return upstream.IDKey(c.password, c.salt, c.time, c.memory, c.threads, c.keyLen)
}

func (c idCase) with(p *Pool) []byte {
	return p.IDKey(c.password, c.salt, c.time, c.memory, c.threads, c.keyLen)
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// idCases returns fixed cases (nextsecure's parameters, the smallest
// memory, memory that deriveKey rounds, p > 1, key lengths around blake2b's
// 64-byte output) and n random ones.
func idCases(seed uint64, n int) []idCase {
	r := rand.New(rand.NewPCG(seed, 0))
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	cases := []idCase{
		{pw, salt, curTime, curMemory, curThreads, curKeyLen},
		{[]byte{}, salt, curTime, curMemory, curThreads, curKeyLen},
		{pw, salt, 3, curMemory + 1, 1, 32}, // odd memory, rounded down
		{pw, salt, 1, curMemory, 2, 64},     // p > 1, same work-area size
		{pw, salt, 3, 65536, 4, 32},         // stronger legacy parameters
		{pw, salt, 1, 8, 1, 16},             // smallest memory
		{pw, salt, 2, 9, 1, 1},              // rounded down to 8 blocks
		{pw, salt, 1, 15, 2, 65},            // raised to the minimum 16
		{pw, salt, 2, 37, 4, 63},            // raised to the minimum 32
		{pw, salt, 4, 1001, 3, 128},         // odd memory and threads
		{pw, salt, 1, 100, 7, 200},          // 7 lanes
		{pw, []byte("s"), 1, 513, 16, 4},    // 16 lanes
		{randBytes(r, 1000), salt, 2, 64, 1, 33},
	}
	for range n {
		threads := uint8(1 + r.IntN(8))
		cases = append(cases, idCase{
			password: randBytes(r, r.IntN(65)),
			salt:     randBytes(r, r.IntN(33)),
			time:     uint32(1 + r.IntN(3)),
			memory:   uint32(8*int(threads) + r.IntN(2048)),
			threads:  threads,
			keyLen:   uint32(1 + r.IntN(130)),
		})
	}
	return cases
}

// withGeneric runs f with the SSE4.1 and then, if it was on, the generic
// BlaMka, like upstream's TestArgon2.
func withGeneric(t *testing.T, f func(t *testing.T)) {
	defer func(sse4 bool) { useSSE4 = sse4 }(useSSE4)
	if useSSE4 {
		t.Run("sse4", f)
		useSSE4 = false
	}
	t.Run("generic", f)
}

func TestIDKeyMatchesUpstream(t *testing.T) {
	cur := NewPool(curMemory, curThreads, 2)
	withGeneric(t, func(t *testing.T) {
		for _, c := range idCases(1, 60) {
			want := c.upstream()
			if got := IDKey(c.password, c.salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
				t.Errorf("%v: IDKey = %x, want %x", c, got, want)
			}
			// A pool of this case's size: the first call allocates, the
			// second reuses that work area.
			own := NewPool(c.memory, c.threads, 1)
			for i := range 2 {
				if got := c.with(own); !bytes.Equal(got, want) {
					t.Errorf("%v: Pool.IDKey call %d = %x, want %x", c, i+1, got, want)
				}
			}
			if len(own.free) != 1 {
				t.Errorf("%v: pool of the same size kept %d work areas, want 1", c, len(own.free))
			}
			// The pool of nextsecure's parameters, whatever the size.
			if got := c.with(cur); !bytes.Equal(got, want) {
				t.Errorf("%v: current-parameters Pool.IDKey = %x, want %x", c, got, want)
			}
		}
	})
}

// TestPoolReuse runs the same inputs twice in a row and interleaved with
// others through one pooled work area.
func TestPoolReuse(t *testing.T) {
	p := NewPool(curMemory, curThreads, 2)
	salt := []byte("0123456789abcdef")
	a := idCase{[]byte("password A"), salt, curTime, curMemory, curThreads, curKeyLen}
	b := idCase{[]byte("password B"), salt, curTime, curMemory, curThreads, curKeyLen}
	c := idCase{[]byte("password C"), salt, 3, curMemory, 2, 64} // same size, other parameters
	small := idCase{[]byte("password A"), salt, 1, 64, 1, 32}    // other size: not pooled
	want := map[*idCase][]byte{&a: a.upstream(), &b: b.upstream(), &c: c.upstream(), &small: small.upstream()}

	var area *block
	for i, k := range []*idCase{&a, &a, &b, &a, &small, &b, &b, &c, &a, &c, &small, &a} {
		if got := k.with(p); !bytes.Equal(got, want[k]) {
			t.Errorf("call %d (%v) = %x, want %x", i+1, *k, got, want[k])
		}
		// Sequential calls keep reusing the one work area.
		if len(p.free) != 1 {
			t.Fatalf("after call %d: %d work areas kept, want 1", i+1, len(p.free))
		}
		B := <-p.free
		if area == nil {
			area = &B[0]
		} else if &B[0] != area {
			t.Errorf("after call %d: a new work area was kept instead of the reused one", i+1)
		}
		p.free <- B
	}
}

// TestDirtyWorkArea checks that the output does not depend on what the work
// area held, even if it was not cleared: initBlocks and the first pass
// overwrite every block before reading it.
func TestDirtyWorkArea(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 0))
	withGeneric(t, func(t *testing.T) {
		for _, c := range idCases(3, 20) {
			p := NewPool(c.memory, c.threads, 1)
			B := make([]block, p.blocks)
			for i := range B {
				for j := range B[i] {
					B[i][j] = r.Uint64()
				}
			}
			p.free <- B
			if got, want := c.with(p), c.upstream(); !bytes.Equal(got, want) {
				t.Errorf("%v: Pool.IDKey with a dirty work area = %x, want %x", c, got, want)
			}
			if B2 := <-p.free; &B2[0] != &B[0] {
				t.Errorf("%v: the dirty work area was not used", c)
			}
		}
	})
}

// TestWorkAreaCleared checks that work areas are cleared before they are
// kept, and before they are dropped when not of the pool's size.
func TestWorkAreaCleared(t *testing.T) {
	p := NewPool(curMemory, curThreads, 1)
	c := idCase{[]byte("secret"), []byte("0123456789abcdef"), curTime, curMemory, curThreads, curKeyLen}
	c.with(p)
	B := <-p.free
	if i := firstNonZero(B); i >= 0 {
		t.Errorf("kept work area: block %d is not zero", i)
	}

	other := make([]block, 64)
	for i := range other {
		other[i][0] = 1
	}
	p.put(other, false)
	if i := firstNonZero(other); i >= 0 {
		t.Errorf("dropped work area: block %d is not zero", i)
	}
	if len(p.free) != 0 {
		t.Errorf("a work area of another size was kept")
	}
}

func firstNonZero(B []block) int {
	for i := range B {
		if B[i] != (block{}) {
			return i
		}
	}
	return -1
}

// TestPoolSize checks that NewPool rounds memory as deriveKey does (the
// work area is kept) and keeps at most n work areas.
func TestPoolSize(t *testing.T) {
	for _, c := range []struct {
		memory  uint32
		threads uint8
		blocks  uint32
	}{
		{curMemory, 1, curMemory},
		{curMemory + 3, 1, curMemory},
		{curMemory, 2, curMemory},
		{100, 3, 96},
		{15, 2, 16},
		{1, 1, 8},
	} {
		p := NewPool(c.memory, c.threads, 1)
		if p.blocks != c.blocks {
			t.Errorf("NewPool(%d, %d, 1): %d blocks, want %d", c.memory, c.threads, p.blocks, c.blocks)
		}
		p.IDKey([]byte("pw"), []byte("salt"), 1, c.memory, c.threads, 16)
		if len(p.free) != 1 {
			t.Errorf("NewPool(%d, %d, 1): work area not kept", c.memory, c.threads)
		}
	}
	for _, n := range []int{-1, 0} {
		p := NewPool(64, 1, n)
		p.IDKey([]byte("pw"), []byte("salt"), 1, 64, 1, 16)
		if len(p.free) != 0 {
			t.Errorf("NewPool(64, 1, %d) kept a work area", n)
		}
	}
}

// TestPoolConcurrent hashes from more goroutines than the pool keeps work
// areas (run it with -race): every output must be right and the pool must
// keep at most its bound.
func TestPoolConcurrent(t *testing.T) {
	const keep, goroutines, rounds = 2, 8, 4
	p := NewPool(curMemory, curThreads, keep)
	all := idCases(4, 4)
	var cases []idCase
	for _, i := range []int{0, 1, 3, 5, 7, 9, 13, 14} { // nextsecure's parameters, then others
		cases = append(cases, all[i])
	}
	want := make([][]byte, len(cases))
	for i, c := range cases {
		want[i] = c.upstream()
	}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				i := (g + r) % len(cases)
				if got := cases[i].with(p); !bytes.Equal(got, want[i]) {
					t.Errorf("goroutine %d: %v = %x, want %x", g, cases[i], got, want[i])
				}
			}
		})
	}
	wg.Wait()
	if n := len(p.free); n < 1 || n > keep {
		t.Errorf("%d work areas kept, want 1 to %d", n, keep)
	}
}

// TestPoolOffHeap checks that the work areas a Pool keeps are not on the Go
// heap, where the garbage collector's goal (twice the live heap at
// GOGC=100) would count them twice.
func TestPoolOffHeap(t *testing.T) {
	if !offHeap {
		t.Skip("work areas are on the Go heap on this system")
	}
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	p := NewPool(curMemory, curThreads, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { p.IDKey([]byte("pw"), []byte("0123456789abcdef"), 1, curMemory, curThreads, 32) })
	}
	wg.Wait()
	after := live()
	if len(p.free) == 0 {
		t.Fatal("no work area kept")
	}
	if grew := int64(after) - int64(before); grew > curMemory*1024/2 {
		t.Errorf("live heap grew by %d bytes with %d work areas of %d KiB kept, want them off the heap",
			grew, len(p.free), curMemory)
	}
	runtime.KeepAlive(p)
}
