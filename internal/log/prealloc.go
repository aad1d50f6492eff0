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

// preallocation is how far ahead of its end the active segment is kept allocated:
// Kafka's preallocate takes the whole segment (segment.bytes, of which the segment
// gives back what it did not fill when it is sealed), else the broker's setting.
func (l *Log) preallocation(cfg *Config) int64 {
	if cfg.Preallocate {
		return int64(cfg.SegmentBytes)
	}
	return l.preallocateAhead
}

// preallocateFor keeps s allocated at least ahead bytes past end, in one call per ahead
// bytes appended. ahead <= 0 turns it off. An error only costs the benefit: a file system
// that cannot preallocate is not asked again for this segment, any other failure (a full
// disk) is left to the write that follows.
func (s *segment) preallocateFor(end, ahead int64) {
	if ahead <= 0 || end <= s.preallocEnd {
		return
	}
	from := max(s.preallocEnd, s.size.Load())
	to := end + ahead
	switch err := allocateKeepSize(s.file, from, to-from); {
	case err == nil:
		s.preallocEnd = to
	case isUnsupported(err):
		s.preallocEnd = 1<<63 - 1
	}
}

// trimPreallocation gives back the blocks allocated past the segment's end: truncating
// a file to its own size frees them (ext4 and XFS both do, by design).
func (s *segment) trimPreallocation() error {
	if s.preallocEnd == 0 {
		return nil
	}
	s.preallocEnd = 0
	if err := s.file.Truncate(s.size.Load()); err != nil {
		return fmt.Errorf("trim preallocation of %s: %w", s.logPath, err)
	}
	return nil
}
