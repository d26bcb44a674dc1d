// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Vendored from golang.org/x/crypto v0.59.0, directory argon2/, for
// nextsecure's internal/password. Every file here is upstream's, unchanged,
// except LICENSE (x/crypto's, from the module root), pool_test.go (ours) and
// this file, whose only changes are listed below. They let a caller reuse
// the work area (1 KiB per KiB of memory cost: 19 MiB for nextsecure)
// instead of allocating, page-faulting and zeroing a fresh one per hash;
// upstream has no API for that (golang/go#36634). Key, argon2i and argon2d
// are kept as upstream has them, unused.
//
//   - new: type Pool, NewPool, (*Pool).IDKey, (*Pool).get, (*Pool).put and
//     deriveKeyWith (upstream's deriveKey body, with a *Pool); newArea in
//     area_mmap.go and area_other.go (new files, ours);
//   - deriveKey calls deriveKeyWith(nil, ...): a fresh work area, as upstream;
//   - deriveKeyWith takes the work area from the pool and, once the key is
//     extracted, clears it (password-derived data must not linger) and
//     returns it to the pool;
//   - initBlocks fills a work area it is given instead of allocating one;
//   - processSegment calls runtime.Gosched every yieldEvery blocks;
//   - processSegment overwrites blocks in the first pass (processBlock)
//     instead of XORing into memory assumed to be zero (processBlockXOR),
//     as the reference implementation does for version 0x13: same output on
//     zeroed memory, and the output no longer depends on what the work area
//     held before.
//
// To review against upstream:
// diff -r "$(go env GOMODCACHE)/golang.org/x/crypto@v0.59.0/argon2" .

// Package argon2 implements the key derivation function Argon2.
// Argon2 was selected as the winner of the Password Hashing Competition and can
// be used to derive cryptographic keys from passwords.
//
// For a detailed specification of Argon2 see [argon2-specs.pdf].
//
// If you aren't sure which function you need, use Argon2id (IDKey) and
// the parameter recommendations for your scenario.
//
// # Argon2i
//
// Argon2i (implemented by Key) is the side-channel resistant version of Argon2.
// It uses data-independent memory access, which is preferred for password
// hashing and password-based key derivation. Argon2i requires more passes over
// memory than Argon2id to protect from trade-off attacks. The recommended
// parameters (taken from [RFC 9106 Section 7.3]) for non-interactive
// operations are time=3 and to use the maximum available memory.
//
// # Argon2id
//
// Argon2id (implemented by IDKey) is a hybrid version of Argon2 combining
// Argon2i and Argon2d. It uses data-independent memory access for the first
// half of the first iteration over the memory and data-dependent memory access
// for the rest. Argon2id is side-channel resistant and provides better brute-
// force cost savings due to time-memory tradeoffs than Argon2i. [RFC 9106
// Section 4] recommends time=1, memory=2*1024*1024 KiB (2 GiB), and threads=4
// as the first recommended option. If much less memory is available, it
// recommends time=3, memory=64*1024 KiB (64 MiB), and threads=4 as the second
// recommended option.
//
// [argon2-specs.pdf]: https://github.com/P-H-C/phc-winner-argon2/blob/master/argon2-specs.pdf
// [RFC 9106 Section 4]: https://www.rfc-editor.org/rfc/rfc9106.html#section-4
// [RFC 9106 Section 7.3]: https://www.rfc-editor.org/rfc/rfc9106.html#section-7.3
package argon2

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/blake2b"
)

// The Argon2 version implemented by this package.
const Version = 0x13

const (
	argon2d = iota
	argon2i
	argon2id
)

// Key derives a key from the password, salt, and cost parameters using Argon2i
// returning a byte slice of length keyLen that can be used as cryptographic
// key. The CPU cost and parallelism degree must be greater than zero.
//
// For example, you can get a derived key for e.g. AES-256 (which needs a
// 32-byte key) by doing:
//
//	key := argon2.Key([]byte("some password"), salt, 3, 32*1024, 4, 32)
//
// The example above uses time=3 and memory=32*1024. Argon2i generally
// requires more passes over memory than Argon2id. If in doubt, prefer IDKey
// and its Argon2id parameter recommendations.
//
// The time parameter specifies the number of passes over the memory and the
// memory parameter specifies the size of the memory in KiB. For example
// memory=32*1024 sets the memory cost to ~32 MB. The number of threads can be
// adjusted to the number of available CPUs. The cost parameters should be
// increased as memory latency and CPU parallelism increases. Remember to get a
// good random salt.
func Key(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKey(argon2i, password, salt, nil, nil, time, memory, threads, keyLen)
}

// IDKey derives a key from the password, salt, and cost parameters using
// Argon2id returning a byte slice of length keyLen that can be used as
// cryptographic key. The CPU cost and parallelism degree must be greater than
// zero.
//
// For example, you can get a derived key for e.g. AES-256 (which needs a
// 32-byte key) by doing:
//
//	key := argon2.IDKey([]byte("some password"), salt, 1, 2*1024*1024, 4, 32)
//
// The example above uses the first [RFC 9106 Section 4] recommended option.
// If much less memory is available, the second recommended option is time=3,
// memory=64*1024 KiB (64 MiB), and threads=4.
//
// The time parameter specifies the number of passes over the memory and the
// memory parameter specifies the size of the memory in KiB. For example
// memory=2*1024*1024 sets the memory cost to ~2 GiB. The number of threads can
// be adjusted to the numbers of available CPUs. The cost parameters should be
// increased as memory latency and CPU parallelism increases. Remember to get a
// good random salt.
//
// [RFC 9106 Section 4]: https://www.rfc-editor.org/rfc/rfc9106.html#section-4
func IDKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKey(argon2id, password, salt, nil, nil, time, memory, threads, keyLen)
}

func deriveKey(mode int, password, salt, secret, data []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKeyWith(nil, mode, password, salt, secret, data, time, memory, threads, keyLen)
}

// deriveKeyWith is upstream's deriveKey with the work area taken from pool
// (nil: allocated), cleared and given back once the key is extracted.
func deriveKeyWith(pool *Pool, mode int, password, salt, secret, data []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2: number of rounds too small")
	}
	if threads < 1 {
		panic("argon2: parallelism degree too low")
	}
	h0 := initHash(password, salt, secret, data, time, memory, uint32(threads), keyLen, mode)

	memory = memory / (syncPoints * uint32(threads)) * (syncPoints * uint32(threads))
	if memory < 2*syncPoints*uint32(threads) {
		memory = 2 * syncPoints * uint32(threads)
	}
	// nextsecure: B's content does not matter. initBlocks writes blocks 0
	// and 1 of each lane; the first pass writes every other block (with
	// processBlock) before any read of it, since prev and indexAlpha only
	// name blocks already computed in that pass.
	B, owned := pool.get(memory)
	defer pool.put(B, owned)
	initBlocks(&h0, B, memory, uint32(threads))
	processBlocks(B, time, memory, uint32(threads), mode)
	return extractKey(B, memory, uint32(threads), keyLen)
}

// A Pool is a bounded free list of work areas for one work-area size, so
// that hashes with the parameters it was made for reuse memory instead of
// allocating 1 KiB per KiB of memory cost each time. It owns at most the
// number of work areas given to NewPool, so it holds that many times the
// memory cost for as long as it lives. Work areas are cleared before they
// are kept. Its methods are safe for concurrent use.
//
// The work areas it owns are allocated outside the Go heap where the
// system allows (newArea), because the garbage collector lets the heap
// grow to twice what is live (GOGC=100) before it collects: two kept
// 19 MiB work areas on the heap raised a server's heap goal by 38 MiB,
// filled with garbage between collections (docs/performance.md).
type Pool struct {
	blocks uint32       // work-area length in blocks, as deriveKeyWith rounds memory
	free   chan []block // cleared work areas that p owns, of blocks blocks
	owned  atomic.Int32 // work areas p has allocated for itself, at most cap(free)
}

// NewPool returns a Pool for IDKey with the given memory and threads that
// keeps at most n work areas (none if n <= 0). It allocates none up front.
func NewPool(memory uint32, threads uint8, n int) *Pool {
	if threads < 1 {
		panic("argon2: parallelism degree too low")
	}
	// The rounding of deriveKeyWith.
	memory = memory / (syncPoints * uint32(threads)) * (syncPoints * uint32(threads))
	if memory < 2*syncPoints*uint32(threads) {
		memory = 2 * syncPoints * uint32(threads)
	}
	return &Pool{blocks: memory, free: make(chan []block, max(n, 0))}
}

// IDKey is the package's IDKey with the work area taken from p when one is
// free and the parameters give p's work-area size; otherwise it allocates
// one, which p keeps afterwards if it owns fewer work areas than its bound.
// A nil p always allocates.
func (p *Pool) IDKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKeyWith(p, argon2id, password, salt, nil, nil, time, memory, threads, keyLen)
}

// get returns a work area of memory blocks, and whether p owns it (put
// then keeps it). Its content is unspecified (zero in practice);
// deriveKeyWith overwrites every block before reading it.
func (p *Pool) get(memory uint32) ([]block, bool) {
	if p != nil && memory == p.blocks {
		select {
		case B := <-p.free:
			return B, true
		default:
		}
		for {
			n := p.owned.Load()
			if int(n) >= cap(p.free) {
				break
			}
			if p.owned.CompareAndSwap(n, n+1) {
				return newArea(int(memory)), true
			}
		}
	}
	return make([]block, memory), false
}

// put clears B, which holds data derived from the password, and keeps it if
// p owns it. There is always room: p owns at most cap(p.free) work areas.
func (p *Pool) put(B []block, owned bool) {
	clear(B)
	if owned {
		select {
		case p.free <- B:
		default: // not reached
		}
	}
}

const (
	blockLength = 128
	syncPoints  = 4
)

// yieldEvery is how many blocks processSegment computes between two
// runtime.Gosched calls (nextsecure; about 1 ms of work). A segment of
// nextsecure's hash takes about 5 ms, or more when the CPUs are shared; a
// goroutine that runs 10 ms without yielding is preempted by the runtime
// with a signal, and on a busy server the other goroutines (network,
// database) wait for that. Yielding often lets them run promptly and needs
// no signal: on the benchmark machine it removed all preemption signals,
// cut the server's context switches by 8x and raised logins per second by
// about 10% (docs/performance.md).
const yieldEvery = 1024

type block [blockLength]uint64

func initHash(password, salt, key, data []byte, time, memory, threads, keyLen uint32, mode int) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)

	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], time)
	binary.LittleEndian.PutUint32(params[16:20], uint32(Version))
	binary.LittleEndian.PutUint32(params[20:24], uint32(mode))
	b2.Write(params[:])
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(password)))
	b2.Write(tmp[:])
	b2.Write(password)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(salt)))
	b2.Write(tmp[:])
	b2.Write(salt)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(key)))
	b2.Write(tmp[:])
	b2.Write(key)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(data)))
	b2.Write(tmp[:])
	b2.Write(data)
	b2.Sum(h0[:0])
	return h0
}

func initBlocks(h0 *[blake2b.Size + 8]byte, B []block, memory, threads uint32) {
	var block0 [1024]byte
	for lane := uint32(0); lane < threads; lane++ {
		j := lane * (memory / threads)
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 0)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+0] {
			B[j+0][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 1)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+1] {
			B[j+1][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}
	}
}

func processBlocks(B []block, time, memory, threads uint32, mode int) {
	lanes := memory / threads
	segments := lanes / syncPoints

	processSegment := func(n, slice, lane uint32, wg *sync.WaitGroup) {
		var addresses, in, zero block
		if mode == argon2i || (mode == argon2id && n == 0 && slice < syncPoints/2) {
			in[0] = uint64(n)
			in[1] = uint64(lane)
			in[2] = uint64(slice)
			in[3] = uint64(memory)
			in[4] = uint64(time)
			in[5] = uint64(mode)
		}

		index := uint32(0)
		if n == 0 && slice == 0 {
			index = 2 // we have already generated the first two blocks
			if mode == argon2i || mode == argon2id {
				in[6]++
				processBlock(&addresses, &in, &zero)
				processBlock(&addresses, &addresses, &zero)
			}
		}

		offset := lane*lanes + slice*segments + index
		var random uint64
		for index < segments {
			prev := offset - 1
			if index == 0 && slice == 0 {
				prev += lanes // last block in lane
			}
			if mode == argon2i || (mode == argon2id && n == 0 && slice < syncPoints/2) {
				if index%blockLength == 0 {
					in[6]++
					processBlock(&addresses, &in, &zero)
					processBlock(&addresses, &addresses, &zero)
				}
				random = addresses[index%blockLength]
			} else {
				random = B[prev][0]
			}
			newOffset := indexAlpha(random, lanes, segments, threads, n, slice, lane, index)
			if n == 0 { // nextsecure: overwrite, see the top of the file
				processBlock(&B[offset], &B[prev], &B[newOffset])
			} else {
				processBlockXOR(&B[offset], &B[prev], &B[newOffset])
			}
			index, offset = index+1, offset+1
			if index%yieldEvery == 0 { // nextsecure: see yieldEvery
				runtime.Gosched()
			}
		}
		wg.Done()
	}

	for n := uint32(0); n < time; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			var wg sync.WaitGroup
			for lane := uint32(0); lane < threads; lane++ {
				wg.Add(1)
				go processSegment(n, slice, lane, &wg)
			}
			wg.Wait()
		}
	}

}

func extractKey(B []block, memory, threads, keyLen uint32) []byte {
	lanes := memory / threads
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range B[(lane*lanes)+lanes-1] {
			B[memory-1][i] ^= v
		}
	}

	var block [1024]byte
	for i, v := range B[memory-1] {
		binary.LittleEndian.PutUint64(block[i*8:], v)
	}
	key := make([]byte, keyLen)
	blake2bHash(key, block[:])
	return key
}

func indexAlpha(rand uint64, lanes, segments, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segments, ((slice+1)%syncPoints)*segments
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segments, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	return phi(rand, uint64(m), uint64(s), refLane, lanes)
}

func phi(rand, m, s uint64, lane, lanes uint32) uint32 {
	p := rand & 0xFFFFFFFF
	p = (p * p) >> 32
	p = (p * m) >> 32
	return lane*lanes + uint32((s+m-(p+1))%uint64(lanes))
}
