package server

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/api"
)

// closeLaterHandler: op 'C' answers CloseConnection after 20ms (as a SASL failure
// reply completes after its failure delay); anything else is an immediate echo.
type closeLaterHandler struct{}

func (closeLaterHandler) Handle(_ context.Context, _ *api.Session, frame []byte) *api.Reply {
	reply := api.NewReply()
	if len(frame) > 8 && frame[8] == 'C' {
		go func() { time.Sleep(20 * time.Millisecond); reply.CloseConnection() }()
		return reply
	}
	reply.SendBytes(frame[4:])
	return reply
}

// slowCloseConn widens the window between the writer releasing writeMu and the socket
// actually closing (cancel, close(closing), netConn.Close take nonzero time anyway).
type slowCloseConn struct{ net.Conn }

func (c slowCloseConn) Close() error { time.Sleep(200 * time.Millisecond); return c.Conn.Close() }

// TestNoReplyAfterReplyClose: once a reply has asked to close the connection, a request
// read after it is not answered, even one the reader could write itself (writeInline):
// the writer closes the connection before it lets go of writeMu, and writeInline checks
// for the close once it holds it.
func TestNoReplyAfterReplyClose(t *testing.T) {
	s := New(Config{}, closeLaterHandler{}, nil)
	s.state = stateRunning
	server, client := net.Pipe()
	s.serveConn(slowCloseConn{server}, "pipe", s.metrics.forListener("pipe"))
	defer s.Shutdown(context.Background())
	defer client.Close()

	send(t, client, request(1, 'C'))
	time.Sleep(60 * time.Millisecond) // the close reply completed and the writer handled it
	send(t, client, echo(2, 0))
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := readResponse(client)
	if err == nil {
		t.Fatalf("got response %x on a connection its handler asked to close", got)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Logf("read: %v", err) // a close all the same; which error depends on timing
	}
}
