package main

import (
	"context"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/nagare-dev/nagare/internal/broker"
)

// topOptions are `nagare top`'s flags.
type topOptions struct {
	http       string
	interval   time.Duration
	io         bool
	sort       string
	iterations int
}

func newTopCommand() *cobra.Command {
	var o topOptions
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live view of the busiest clients of a broker",
		Long: `Show the clients of one Nagare broker, busiest first, refreshed every second: broker
time (percent of one thread, what request_percentage quotas meter), requests/s, bytes/s
in and out, throttle and each client's API mix. It reads the broker's HTTP endpoint
(/v1/clients; --io: /v1/io, the read path's log2 latency histograms).

Keys: t sort by broker time, r by requests/s, b by bytes/s, h by throttle; q quits.
Without a terminal it prints one screen per refresh (--iterations bounds how many).`,
		Example: `  nagare top
  nagare top --http 10.0.0.5:9644 --sort b
  nagare top --io`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef(cmd, "top takes no arguments, got %q", args)
			}
			if len(o.sort) != 1 || !slices.Contains([]topSort{sortTime, sortRequests, sortBytes, sortThrottle}, topSort(o.sort[0])) {
				return usagef(cmd, "--sort %q: want t, r, b or h", o.sort)
			}
			if o.interval <= 0 {
				return usagef(cmd, "--interval must be positive")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTop(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.http, "http", "127.0.0.1:9644", "the broker's HTTP address (nagare serve --http)")
	f.DurationVar(&o.interval, "interval", time.Second, "refresh interval")
	f.BoolVar(&o.io, "io", false, "show the read path's latency histograms (sendfile, warm-up, residency check)")
	f.StringVar(&o.sort, "sort", "t", "initial sort: t (broker time), r (requests/s), b (bytes/s), h (throttle)")
	f.IntVar(&o.iterations, "iterations", 0, "stop after this many refreshes (0: until q or interrupted)")
	return cmd
}

// runTop refreshes the screen every interval until q, ctx's end or the iterations.
func runTop(ctx context.Context, o topOptions, in io.Reader, out io.Writer) error {
	client := newBrokerHTTP(o.http)
	screen := topScreen{Addr: o.http, Sort: topSort(o.sort[0])}
	term := openTerminal(in, out)
	if term != nil {
		defer term.restore()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan byte, 8)
	if term != nil {
		go readKeys(ctx, term.in, keys)
	}
	var prevIO *broker.IOView
	draw := func() {
		if term != nil {
			screen.Width, screen.Height = term.size()
			io.WriteString(out, "\x1b[H\x1b[2J") // home, clear
		}
		renderTop(newlineWriter{out, term != nil}, screen)
	}
	ticker := time.NewTicker(o.interval)
	defer ticker.Stop()
	for n := 1; ; n++ {
		screen.Err = client.get(ctx, "/v1/clients", &screen.View)
		if screen.Err == nil && o.io {
			var cur broker.IOView
			if screen.Err = client.get(ctx, "/v1/io", &cur); screen.Err == nil {
				screen.IO, screen.IOTotal = ioDelta(prevIO, &cur), prevIO == nil
				prevIO = &cur
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		draw()
		if o.iterations > 0 && n >= o.iterations {
			return screen.Err
		}
		for refresh := false; !refresh; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ticker.C:
				refresh = true
			case k, ok := <-keys:
				switch k = toLower(k); {
				case !ok || k == 'q' || k == 3: // 3: ctrl-c in raw mode
					return nil
				case topSort(k) == sortTime, topSort(k) == sortRequests, topSort(k) == sortBytes, topSort(k) == sortThrottle:
					screen.Sort = topSort(k)
					draw() // re-sort what is shown now
				}
			}
		}
	}
}

func toLower(k byte) byte {
	if k >= 'A' && k <= 'Z' {
		return k + 'a' - 'A'
	}
	return k
}

// ioDelta is cur minus prev bucket by bucket: the last interval's histogram.
func ioDelta(prev, cur *broker.IOView) *broker.IOView {
	if prev == nil {
		return cur
	}
	out := *cur
	out.Histogram = map[string]broker.IOHist{}
	for name, h := range cur.Histogram {
		d := broker.IOHist{Buckets: slices.Clone(h.Buckets), SumUs: h.SumUs - prev.Histogram[name].SumUs}
		for i, n := range prev.Histogram[name].Buckets {
			if i < len(d.Buckets) {
				d.Buckets[i] -= min(n, d.Buckets[i])
			}
		}
		out.Histogram[name] = d
	}
	return &out
}

// readKeys sends each byte read from in until it fails or ctx ends.
func readKeys(ctx context.Context, in *os.File, keys chan<- byte) {
	defer close(keys)
	stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Now()) }) // unblocks Read where the fd supports deadlines
	defer stop()
	var b [1]byte
	for {
		n, err := in.Read(b[:])
		if err != nil || ctx.Err() != nil {
			return
		}
		if n == 1 {
			select {
			case keys <- b[0]:
			case <-ctx.Done():
				return
			}
		}
	}
}

// terminal is a raw-mode terminal: keys arrive unbuffered and unechoed; restore puts it
// back as it was.
type terminal struct {
	in, out *os.File
	saved   unix.Termios
}

// openTerminal puts in into raw mode and switches out to the alternate screen, if both
// are terminals; otherwise it returns nil and top prints screens one after another.
func openTerminal(in io.Reader, out io.Writer) *terminal {
	inFile, ok1 := in.(*os.File)
	outFile, ok2 := out.(*os.File)
	if !ok1 || !ok2 {
		return nil
	}
	saved, err := unix.IoctlGetTermios(int(inFile.Fd()), ioctlGetTermios)
	if err != nil {
		return nil
	}
	if _, err := unix.IoctlGetWinsize(int(outFile.Fd()), unix.TIOCGWINSZ); err != nil {
		return nil
	}
	raw := *saved
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(inFile.Fd()), ioctlSetTermios, &raw); err != nil {
		return nil
	}
	io.WriteString(outFile, "\x1b[?1049h\x1b[?25l") // alternate screen, hide cursor
	return &terminal{in: inFile, out: outFile, saved: *saved}
}

func (t *terminal) restore() {
	io.WriteString(t.out, "\x1b[?25h\x1b[?1049l") // show cursor, main screen
	unix.IoctlSetTermios(int(t.in.Fd()), ioctlSetTermios, &t.saved)
}

// size is the terminal's columns and rows (80x24 if it cannot tell).
func (t *terminal) size() (int, int) {
	ws, err := unix.IoctlGetWinsize(int(t.out.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return 80, 24
	}
	return int(ws.Col), int(ws.Row)
}

// newlineWriter turns \n into \r\n on a raw terminal, where output processing may be off.
type newlineWriter struct {
	w   io.Writer
	raw bool
}

func (n newlineWriter) Write(p []byte) (int, error) {
	if !n.raw {
		return n.w.Write(p)
	}
	var buf []byte
	for _, c := range p {
		if c == '\n' {
			buf = append(buf, '\r')
		}
		buf = append(buf, c)
	}
	if _, err := n.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
