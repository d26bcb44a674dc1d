// nextsecure: not from upstream (see argon2.go).

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package argon2

// offHeap reports whether newArea allocates outside the Go heap.
const offHeap = false

// newArea returns a work area of n blocks on the Go heap.
func newArea(n int) []block { return make([]block, n) }
