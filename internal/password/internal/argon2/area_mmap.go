// nextsecure: not from upstream (see argon2.go).

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package argon2

import (
	"syscall"
	"unsafe"
)

// offHeap reports whether newArea allocates outside the Go heap.
const offHeap = true

// newArea returns a zeroed work area of n blocks mapped outside the Go heap
// (anonymous private memory), so that it does not count towards the
// garbage collector's heap goal; a Pool keeps it for the life of the
// process and never unmaps it. A block holds no pointers, so the collector
// need not see it. If the mapping fails it falls back to the heap.
func newArea(n int) []block {
	mem, err := syscall.Mmap(-1, 0, n*int(unsafe.Sizeof(block{})),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]block, n)
	}
	return unsafe.Slice((*block)(unsafe.Pointer(&mem[0])), n)
}
