//go:build linux

package readpath

import (
	"errors"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = int64(os.Getpagesize())

// checkerFor returns the implementation of m, nil if this build has none.
func checkerFor(m Method) checkFunc {
	switch m {
	case MethodCachestat:
		return cachestatResident
	case MethodPreadv2:
		return preadv2Resident
	case MethodMincore:
		return mincoreResident
	}
	return nil
}

// pageSpan is the first page and the number of pages that [offset, offset+length) touches.
func pageSpan(offset, length int64) (first, pages int64) {
	first = offset / pageSize
	last := (offset + length - 1) / pageSize
	return first, last - first + 1
}

// cachestatResident counts the range's cached pages with cachestat(2). Dirty and
// writeback pages are cached too: sendfile reads them without the disk. But cachestat
// also counts pages that readahead has put in the cache and the disk has not filled yet,
// and sendfile would wait for those; readahead fills a window front to back, so the
// range's last page is probed with preadv2(RWF_NOWAIT), which fails on such a page.
func cachestatResident(fd int, offset, length int64) (bool, error) {
	var stat unix.Cachestat_t
	rng := unix.CachestatRange{Off: uint64(offset), Len: uint64(length)}
	for {
		err := unix.Cachestat(uint(fd), &rng, &stat, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		if _, pages := pageSpan(offset, length); stat.Cache < uint64(pages) {
			return false, nil
		}
		return pageReadable(fd, offset+length-1), nil
	}
}

// pageReadable reads the byte at pos with RWF_NOWAIT: false when its page is not in the
// cache or not yet read from the disk. Where the filesystem refuses RWF_NOWAIT it says
// true, leaving the caller's answer as it was.
func pageReadable(fd int, pos int64) bool {
	var b [1]byte
	for {
		_, err := unix.Preadv2(fd, [][]byte{b[:]}, pos, unix.RWF_NOWAIT)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return !errors.Is(err, unix.EAGAIN)
	}
}

// preadv2Resident reads one byte from each of up to maxProbes pages spread evenly over
// the range (always the first and the last) with RWF_NOWAIT: a page that is not cached
// makes the read fail with EAGAIN rather than wait for the disk.
func preadv2Resident(fd int, offset, length int64) (bool, error) {
	first, pages := pageSpan(offset, length)
	probes := min(pages, maxProbes)
	var b [1]byte
	iov := [][]byte{b[:]}
	for i := int64(0); i < probes; i++ {
		page := first
		if probes > 1 {
			page = first + i*(pages-1)/(probes-1)
		}
		pos := max(page*pageSize, offset)
		for {
			_, err := unix.Preadv2(fd, iov, pos, unix.RWF_NOWAIT)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			break
		}
	}
	return true, nil
}

// mincoreVectors recycles mincore's one-byte-per-page result buffers.
var mincoreVectors = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// mincoreResident maps the range read-only and asks mincore(2) which pages are cached.
// Mapping does not read the file; only touching the mapping would.
func mincoreResident(fd int, offset, length int64) (bool, error) {
	first, pages := pageSpan(offset, length)
	mem, err := unix.Mmap(fd, first*pageSize, int(pages*pageSize), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return false, err
	}
	defer unix.Munmap(mem)
	vp := mincoreVectors.Get().(*[]byte)
	defer mincoreVectors.Put(vp)
	if int64(cap(*vp)) < pages {
		*vp = make([]byte, pages)
	}
	vec := (*vp)[:pages]
	// x/sys has no mincore wrapper for Linux; the raw call takes the mapping's address.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)),
		uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return false, errno
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false, nil
		}
	}
	return true, nil
}
