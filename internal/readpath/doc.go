// Package readpath moves log data from segment files to sockets without making a socket
// writer wait on the disk.
//
// A fetch response's records are file ranges that the connection writer sends with
// sendfile. If a range is not in the page cache, sendfile blocks its OS thread while the
// disk reads it: the seed's incident, where one cold read delayed every response behind
// it. So before a range reaches a writer, the fetch handler asks the Pool whether it is
// resident, and if not, queues it to the Pool's warm-up workers, which load it into the
// page cache without copying it to user space; the fetch completes once it is loaded (or
// at its deadline with what is loaded). Only the fetch that needs the disk waits.
//
// Main pieces:
//   - Pool (pool.go): the residency check (residency*.go) and the warm-up workers. The
//     check is chosen by a feature test at start: cachestat(2) where the kernel has it
//     (Linux 6.5+), else preadv2(RWF_NOWAIT) on probe pages, else mincore(2) on a mapping,
//     else none. Warm-up is sendfile(2) to /dev/null (warm_linux.go), which loads pages
//     and copies nothing; BenchmarkLoad measured it against splice through a pipe.
//   - Job (job.go): one fetch's cold ranges, cut into chunks; Ready tells how much of each
//     range is loaded, so a fetch at its deadline can answer with that.
//   - scheduler (queue.go): per-client queues within per-principal queues, both served in
//     turn, a chunk per turn, so one tenant's catch-up read cannot starve another's.
//   - SendFile (sendfile_linux.go, sendfile_other.go): positional sendfile of a file range
//     to a socket. It never uses or moves the file's shared offset, because many
//     connections send ranges of the same segment file at once.
//   - CopyRange (copy.go): the portable pread-and-write fallback, also the path for
//     connections that cannot take sendfile (TLS).
//   - Histogram (histogram.go): a lock-free count of durations by log2(microseconds), for
//     sendfile, residency checks, warm-up loads and warm-up queue waits; metrics.go
//     exports them to Prometheus.
//   - Evict: fsync and posix_fadvise(DONTNEED), for tests and the coldread benchmark.
//
// Concurrency: every function here is safe for concurrent use, on the same file too.
// The Pool's mutex guards its queues and every Job's progress; workers never hold it
// while loading. The Pool bounds the OS threads warm-up blocks in the kernel to its
// worker count; nothing in it takes a lock that appends need. Loads and checks hold a
// reference on the file's descriptor (SyscallConn.Control), so a segment closed meanwhile
// is never confused with another file.
package readpath
