package partition

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// partitionMetadataFile names the file Kafka keeps in each partition directory to bind
// the directory to a topic ID, so a topic deleted and re-created under the same name
// never inherits the old topic's data.
const partitionMetadataFile = "partition.metadata"

// readTopicID returns the topic ID recorded in a partition directory; ok is false when
// there is none.
func readTopicID(dir string) (id [16]byte, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, partitionMetadataFile))
	if errors.Is(err, os.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("read %s: %w", partitionMetadataFile, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, found := strings.CutPrefix(line, "topic_id: "); found {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil || len(raw) != 16 {
				return id, false, fmt.Errorf("%s in %s: bad topic_id %q", partitionMetadataFile, dir, v)
			}
			copy(id[:], raw)
			return id, true, nil
		}
	}
	return id, false, fmt.Errorf("%s in %s: no topic_id", partitionMetadataFile, dir)
}

// writeTopicID records the topic ID in the partition directory, in Kafka's format.
func writeTopicID(dir string, id [16]byte) error {
	body := "version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(id[:]) + "\n"
	tmp := filepath.Join(dir, partitionMetadataFile+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", partitionMetadataFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, partitionMetadataFile)); err != nil {
		return fmt.Errorf("write %s: %w", partitionMetadataFile, err)
	}
	return nil
}
