package log

import "fmt"

// Preallocation: a segment keeps disk blocks allocated ahead of its end, so that appends
// write into blocks the file already owns. Without it, on ext4 (delayed allocation)
// every new page of an appended file is reserved on the append path and allocated at
// writeback, and an append waits on the inode's block-map lock while the writeback
// thread holds it across its allocation and I/O: 65-82 ms stalls of single appends
// under sustained writes (perf sched_switch stacks: ext4_da_get_block_prep waiting in
// down_write), which showed as 60-100 ms p99.9 of acks=all produce on a three-broker
// cluster (docs/BENCHMARKS.md, issue 12). The allocation keeps the file's size
// (FALLOC_FL_KEEP_SIZE), so readers, recovery and the on-disk format see nothing of it,
// and sealing the segment gives back what it did not use.

// preallocation is how far ahead of its end the active segment is kept allocated, and
// up to where: Kafka's preallocate takes the whole segment (to segment.bytes; unlike
// Kafka's sparse setLength this reserves the disk), else the broker's setting, in steps.
func (l *Log) preallocation(cfg *Config) (ahead, whole int64) {
	if cfg.Preallocate {
		return 0, int64(cfg.SegmentBytes)
	}
	return l.preallocateAhead, 0
}

// preallocateFor keeps s allocated to whole (when > 0) or at least ahead bytes past end,
// in one call per ahead bytes appended; both 0 turn it off. A failure only costs the
// benefit, and is not retried for this segment: a file system that cannot preallocate,
// a full disk (the write that follows decides), an interrupted call.
func (s *segment) preallocateFor(end, ahead, whole int64) {
	to := end + ahead
	if whole > 0 {
		to = max(whole, end)
	}
	if to <= end || end <= s.preallocEnd {
		return
	}
	from := max(s.preallocEnd, s.size.Load())
	if err := allocateKeepSize(s.file, from, to-from); err != nil {
		s.preallocEnd = 1<<63 - 1
		return
	}
	s.preallocEnd = to
}

// trimPreallocation gives back any blocks allocated past the segment's end: truncating a
// file to its own size frees them (ext4 and XFS both do, by design). It runs whatever
// this process preallocated, since a segment reopened after a crash may hold blocks
// allocated before it: one system call per sealed segment.
func (s *segment) trimPreallocation() error {
	if err := s.truncateFile(s.size.Load()); err != nil {
		return fmt.Errorf("trim preallocation of %s: %w", s.logPath, err)
	}
	return nil
}

// truncateFile cuts the segment's file at pos, which also frees every block allocated
// past it: every truncation of a segment file goes through here, so the preallocation
// is asked again from the new end.
func (s *segment) truncateFile(pos int64) error {
	s.preallocEnd = 0
	return s.file.Truncate(pos)
}
