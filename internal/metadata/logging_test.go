package metadata

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// recordingHandler keeps every slog record it is given.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]slog.Record
	attrs   []slog.Attr
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{mu: new(sync.Mutex), records: new([]slog.Record)}
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r)
	return nil
}
func (h *recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), attrs...)
	return &c
}
func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

// lines renders the kept records as "LEVEL msg key=value ...".
func (h *recordingHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range *h.records {
		var b strings.Builder
		b.WriteString(r.Level.String() + " " + r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.String())
			return true
		})
		out = append(out, b.String())
	}
	return out
}

func TestHCLogAdapter(t *testing.T) {
	h := newRecordingHandler()
	a := newHCLogAdapter(slog.New(h), nil)
	if a.IsInfo() || !a.IsWarn() || a.GetLevel() != hclog.Warn {
		t.Fatal("the default level is not Warn")
	}
	named := a.Named("snapshot").With("path", "/x")
	named.Info("dropped at the default level")
	named.Warn("kept", "id", 7)
	a.Warn("heartbeat timeout reached, starting election") // routine: demoted to Info, dropped
	a.Error("failed", "error", "boom")
	a.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[ERR] from the standard logger")
	want := []string{
		"WARN kept logger=raft.snapshot id=7 path=/x",
		"ERROR failed logger=raft error=boom",
		"ERROR from the standard logger logger=raft",
	}
	if got := h.lines(); !slices.Equal(got, want) {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	debug := newHCLogAdapter(slog.New(newRecordingHandler()), slog.LevelDebug)
	if !debug.IsDebug() || debug.IsTrace() || debug.GetLevel() != hclog.Debug {
		t.Fatal("RaftLogLevel Debug is not honoured")
	}
}

// TestStoreQuietStart checks that a healthy start and stop log nothing from raft by default.
func TestStoreQuietStart(t *testing.T) {
	h := newRecordingHandler()
	cfg := testConfig(t, t.TempDir())
	cfg.Logger = slog.New(h)
	s := openReady(t, cfg)
	propose(t, s, RegisterBroker{NodeID: 1, Host: "h", Port: 1})
	s.Close()
	for _, line := range h.lines() {
		if strings.Contains(line, "logger=raft") {
			t.Errorf("raft logged at the default level: %s", line)
		}
	}

	h = newRecordingHandler()
	cfg = testConfig(t, t.TempDir())
	cfg.Logger, cfg.RaftLogLevel = slog.New(h), slog.LevelInfo
	openReady(t, cfg).Close()
	if lines := h.lines(); !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "entering leader state") }) {
		t.Errorf("RaftLogLevel Info did not pass raft's Info lines:\n%s", strings.Join(lines, "\n"))
	}
}
