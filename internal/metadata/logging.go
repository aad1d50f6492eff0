package metadata

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter sends the log lines of hashicorp/raft (and its transport and snapshot store),
// which speak hclog, to the broker's slog.Logger, so there is one log with one format.
//
// Raft is talkative at Info (every state change, every snapshot); the adapter drops lines
// below minLevel, Warn unless Config.RaftLogLevel says otherwise, so a healthy start logs
// nothing. Its level methods answer from minLevel, so raft skips building lines nobody reads.
type hclogAdapter struct {
	logger   *slog.Logger // already carries the implied args
	name     string       // hclog's dotted logger name, logged as "logger"
	minLevel slog.Leveler
	implied  []interface{}
}

var _ hclog.Logger = (*hclogAdapter)(nil)

// routineWarnings are raft warnings that every healthy start produces (every node starts as
// a follower, so even a lone voter "times out" waiting for a leader before electing itself).
// They are logged at Info so that the default level stays quiet.
var routineWarnings = map[string]bool{
	"heartbeat timeout reached, starting election": true,
}

// closedByUs reports whether a log line's error is a connection this node closed.
func closedByUs(args []interface{}) bool {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, net.ErrClosed) {
			return true
		}
	}
	return false
}

func newHCLogAdapter(logger *slog.Logger, minLevel slog.Leveler) *hclogAdapter {
	if minLevel == nil {
		minLevel = slog.LevelWarn
	}
	return &hclogAdapter{logger: logger, name: "raft", minLevel: minLevel}
}

// slogLevel maps hclog's levels onto slog's; Trace sits below Debug as slog suggests.
func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo // Info, NoLevel, DefaultLevel
}

func (a *hclogAdapter) enabled(l slog.Level) bool {
	return l >= a.minLevel.Level() && a.logger.Enabled(context.Background(), l)
}

// Log implements hclog.Logger; the other level methods funnel into it.
func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...interface{}) {
	if level == hclog.Off {
		return
	}
	l := slogLevel(level)
	if l == slog.LevelWarn && routineWarnings[msg] {
		l = slog.LevelInfo
	}
	if l == slog.LevelError && msg == "failed to decode incoming command" && closedByUs(args) {
		l = slog.LevelDebug // muxStream.Close ends raft's connection readers this way
	}
	if !a.enabled(l) {
		return
	}
	a.logger.Log(context.Background(), l, msg, append([]interface{}{"logger", a.name}, args...)...)
}

// Trace implements hclog.Logger.
func (a *hclogAdapter) Trace(msg string, args ...interface{}) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *hclogAdapter) Debug(msg string, args ...interface{}) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *hclogAdapter) Info(msg string, args ...interface{}) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *hclogAdapter) Warn(msg string, args ...interface{}) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *hclogAdapter) Error(msg string, args ...interface{}) { a.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (a *hclogAdapter) IsTrace() bool { return a.enabled(slogLevel(hclog.Trace)) }

// IsDebug implements hclog.Logger.
func (a *hclogAdapter) IsDebug() bool { return a.enabled(slogLevel(hclog.Debug)) }

// IsInfo implements hclog.Logger.
func (a *hclogAdapter) IsInfo() bool { return a.enabled(slogLevel(hclog.Info)) }

// IsWarn implements hclog.Logger.
func (a *hclogAdapter) IsWarn() bool { return a.enabled(slogLevel(hclog.Warn)) }

// IsError implements hclog.Logger.
func (a *hclogAdapter) IsError() bool { return a.enabled(slogLevel(hclog.Error)) }

// ImpliedArgs implements hclog.Logger.
func (a *hclogAdapter) ImpliedArgs() []interface{} { return a.implied }

// With implements hclog.Logger.
func (a *hclogAdapter) With(args ...interface{}) hclog.Logger {
	c := *a
	c.logger = a.logger.With(args...)
	c.implied = append(append([]interface{}(nil), a.implied...), args...)
	return &c
}

// Name implements hclog.Logger.
func (a *hclogAdapter) Name() string { return a.name }

// Named implements hclog.Logger: names nest with dots, as in hclog.
func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

// ResetNamed implements hclog.Logger.
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel implements hclog.Logger. It is ignored: the level is Config.RaftLogLevel, which
// the caller can make dynamic with a *slog.LevelVar.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

// GetLevel implements hclog.Logger.
func (a *hclogAdapter) GetLevel() hclog.Level {
	switch l := a.minLevel.Level(); {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

// StandardLogger implements hclog.Logger, for code that wants a *log.Logger.
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: each line written becomes one log line, at
// opts.ForceLevel if set, else at the level its "[WARN]"-style prefix names when
// opts.InferLevels is set, else at Info.
func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &lineWriter{a: a, opts: *opts}
}

type lineWriter struct {
	a    *hclogAdapter
	opts hclog.StandardLoggerOptions
}

func (w *lineWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		msg := strings.TrimSpace(string(line))
		if msg == "" {
			continue
		}
		level := hclog.Info
		switch {
		case w.opts.ForceLevel != hclog.NoLevel:
			level = w.opts.ForceLevel
		case w.opts.InferLevels || w.opts.InferLevelsWithTimestamp:
			level, msg = inferLevel(msg)
		}
		w.a.Log(level, msg)
	}
	return len(p), nil
}

// inferLevel reads the "[LEVEL] " prefix that the standard library loggers in hashicorp code
// write, as hclog does.
func inferLevel(msg string) (hclog.Level, string) {
	for prefix, level := range map[string]hclog.Level{
		"[TRACE]": hclog.Trace, "[DEBUG]": hclog.Debug, "[INFO]": hclog.Info,
		"[WARN]": hclog.Warn, "[ERR]": hclog.Error, "[ERROR]": hclog.Error,
	} {
		if i := strings.Index(msg, prefix); i >= 0 {
			return level, strings.TrimSpace(msg[i+len(prefix):])
		}
	}
	return hclog.Info, msg
}
