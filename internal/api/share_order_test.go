package api

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// Share work runs off the reader without the server's panic guard, so shareOrder has its
// own: a panic closes that request's connection instead of the broker, and the
// connection's next work still runs, after it; work queued behind a closing connection
// is not started.
func TestShareOrderPanicAndClosing(t *testing.T) {
	d := &Dispatcher{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	var o shareOrder
	first := &request{reply: NewReply()}
	o.run(context.Background(), d, first, func() { panic("boom") })
	second := &request{reply: NewReply()}
	o.run(context.Background(), d, second, func() { second.reply.NoResponse() })
	for _, r := range []*request{first, second} {
		select {
		case <-r.reply.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("share work never completed its reply")
		}
	}
	if first.reply.Action() != ReplyClose || second.reply.Action() != ReplyNone {
		t.Fatalf("actions %v, %v: want the panicking request's connection closed and the next answered", first.reply.Action(), second.reply.Action())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	closing := &request{reply: NewReply()}
	ran := false
	o.run(ctx, d, closing, func() { ran = true; closing.reply.NoResponse() })
	<-closing.reply.Done()
	if ran || closing.reply.Action() != ReplyClose {
		t.Fatalf("work behind a closing connection: ran %v, action %v", ran, closing.reply.Action())
	}
}
