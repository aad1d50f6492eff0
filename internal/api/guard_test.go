package api

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestSpawnedPanicIsCounted: a panic on a goroutine a handler started closes the
// connection and reaches OnPanic with the request's listener, so that the server's
// handler_panics_total counts it beside the panics its readers recover.
func TestSpawnedPanicIsCounted(t *testing.T) {
	counted := make(chan string, 1)
	d := &Dispatcher{cfg: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnPanic: func(listener string) { counted <- listener }}}
	r := &request{reply: NewReply(), session: &Session{Listener: "INTERNAL"}}
	d.spawn(r, func() { panic("a handler bug") })
	select {
	case <-r.reply.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the reply did not complete after the panic")
	}
	if r.reply.Action() != ReplyClose {
		t.Errorf("reply action %v, want ReplyClose", r.reply.Action())
	}
	select {
	case l := <-counted:
		if l != "INTERNAL" {
			t.Errorf("OnPanic(%q), want the request's listener INTERNAL", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnPanic was not called")
	}
}
