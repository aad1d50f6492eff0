package broker

import (
	"fmt"

	"github.com/nagare-dev/nagare/internal/readpath"
)

// openReadPath starts the read path's residency check and warm-up pool
// (nagare.readpath.warmup.*), which the dispatcher hands cold fetch ranges. The feature
// test runs in the data dir, so the chosen method works on the segments' filesystem.
func (b *Broker) openReadPath() error {
	pool, err := readpath.NewPool(readpath.Config{
		Enabled: b.conf.Bool("nagare.readpath.warmup.enable"),
		Workers: b.conf.Int("nagare.readpath.warmup.threads"),
		Dir:     b.dataDir,
		Logger:  b.logger,
	})
	if err != nil {
		return fmt.Errorf("broker: read path: %w", err)
	}
	b.readPath = pool
	return nil
}

// exportReadPath publishes the read path's metrics, the server's sendfile histogram among
// them, once the server exists.
func (b *Broker) exportReadPath() error {
	b.readPath.ExportSendFile(b.server.SendFileLatency())
	if err := b.registry.Register(b.readPath.Collector()); err != nil {
		return fmt.Errorf("broker: register read path metrics: %w", err)
	}
	return nil
}

// ReadPath is the broker's warm-up pool, with the read path's histograms (sendfile,
// residency check, warm-up, queue wait); the coldread benchmark reads them in-process.
func (b *Broker) ReadPath() *readpath.Pool { return b.readPath }
