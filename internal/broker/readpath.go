package broker

import (
	"fmt"
	"os"
	"runtime"

	"github.com/nagare-dev/nagare/internal/readpath"
)

// openReadPath starts the read path's residency check and warm-up pool
// (nagare.readpath.warmup.*), which the dispatcher hands cold fetch ranges. The feature
// test runs in the data dir, so the chosen method works on the segments' filesystem.
func (b *Broker) openReadPath() error {
	if b.tuneRuntime {
		b.tuneProcs()
	}
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

// tuneProcs raises GOMAXPROCS by the warm-up pool's size. A goroutine blocked in a disk
// read (a warm-up load, or a sendfile that found its range cold) keeps its P until the
// runtime notices and hands the P on; with as many Ps as cores, a few such reads stall
// every connection's goroutines behind them: the seed's incident, one level down, with
// Ps in place of network threads. `nagare bench coldread` on a throttled disk measured a
// separate producer's p99 at 32x its alone figure with 2 Ps and 3-4x with 8. One P per
// worker that may block keeps the cores' worth free for the rest; CPU-bound work is still
// bounded by the cores. GOMAXPROCS in the environment wins. It starts from the runtime's
// default each time, so a process that starts brokers one after another (the benchmarks)
// does not stack the raise, and a broker with warm-up off runs with the default.
func (b *Broker) tuneProcs() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.SetDefaultGOMAXPROCS()
	if !b.conf.Bool("nagare.readpath.warmup.enable") {
		return
	}
	workers := b.conf.Int("nagare.readpath.warmup.threads")
	if workers <= 0 {
		workers = readpath.DefaultWorkers()
	}
	base := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(base + workers)
	b.logger.Info("GOMAXPROCS raised by the warm-up pool's size, so that threads blocked on the disk hold no core's P",
		"gomaxprocs", base+workers, "runtime_choice", base, "warmup_threads", workers)
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
