package log

import "errors"

// recordTimestamps calls fn with each record's offset and timestamp in a v2 batch,
// decompressing it when needed, until fn returns false.
func recordTimestamps(batch []byte, fn func(offset, timestamp int64) bool) error {
	h := ParseBatchHeader(batch)
	records, _, err := recordsOf(batch, &h, nil, maxDecompressedBatch)
	if err != nil {
		return err
	}
	return forEachRecord(&h, records, func(r *v2Record) error {
		ts := r.timestamp
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		if !fn(r.offset, ts) {
			return errStopRecords
		}
		return nil
	})
}

// errStopRecords ends a record walk early; it never leaves the package.
var errStopRecords = errors.New("log: stop record walk")
