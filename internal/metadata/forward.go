package metadata

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The forwarding protocol carries what only the quorum's leader can do (propose a record,
// add a non-voter, tell how far its log is applied) from any node to the leader, over the
// raft port (see muxStream). A client connection opens with forwardMagic, then carries
// requests and answers in turn, each a frame:
//
//	request:  | length uint32 | kind 1 byte | timeout ms uint32 | body               |
//	  kind 1 propose:    body is an encoded Record (records.go)
//	  kind 2 join:       body is node ID int32 + the node's raft address
//	  kind 3 read index: no body
//	  kind 4 heartbeat:  body is node ID int32, then (since broker epochs) broker epoch
//	                     int64 + metadata offset uint64 (broker_requests.go)
//	  kind 5 controlled shutdown: body is node ID int32 + phase byte, then (since broker
//	                     epochs) broker epoch int64 (broker_requests.go)
//	  kind 6 elect leader: body is partition int32 + election type byte + topic name
//	                     (broker_requests.go)
//	  kind 7 register broker: body is node ID int32 + an encoded RegisterBroker
//	                     (broker_requests.go)
//	  kind 8 describe quorum: no body; answered with a payload (quorum.go)
//	answer:   | length uint32 | 0 | index uint64 |                    (success)
//	          | length uint32 | 2 | payload |                          (success, payload kinds)
//	          | length uint32 | 1 | errors uint32 | message | leader | (failure)
//
// Integers are big-endian; message and leader are uint16-length-prefixed strings. errors is a
// bit set over wireErrors, so that an error keeps every sentinel it matched (errors.Is)
// across the wire; message is its text; leader is the answering node's idea of the leader's
// raft address, a hint for the retry when the answer is errNotLeader.
const (
	reqPropose   byte = 1
	reqJoin      byte = 2
	reqReadIndex byte = 3
	reqHeartbeat byte = 4
	reqShutdown  byte = 5
	reqElect     byte = 6
	reqRegister  byte = 7
	// reqDescribeQuorum is the first kind answered with an opaque payload rather than an
	// index; a leader that predates it answers an error, and the caller falls back.
	reqDescribeQuorum byte = 8

	// answerIndex, answerError and answerPayload are an answer's first byte.
	answerIndex   byte = 0
	answerError   byte = 1
	answerPayload byte = 2

	// maxForwardFrame bounds a frame: records are small, and a CreateTopic with thousands
	// of partitions is a few hundred KiB.
	maxForwardFrame = 16 << 20
	// forwardTimeout bounds one forwarded call when ctx has no earlier deadline.
	forwardTimeout = 30 * time.Second
	// forwardDialTimeout bounds connecting to the leader.
	forwardDialTimeout = 2 * time.Second
	// forwardIdlePerAddr is how many idle connections are kept per leader address.
	forwardIdlePerAddr = 4
	// forwardBackoffMin and forwardBackoffMax space retries while no leader answers.
	forwardBackoffMin = 20 * time.Millisecond
	forwardBackoffMax = 500 * time.Millisecond
)

// forwardIdleTimeout bounds the wait for each request frame on a served forwarding
// connection, so that a peer that sent forwardMagic and then nothing (or went silent)
// does not hold a goroutine forever. The forwarders keep idle connections pooled with no
// timeout of their own (TCP keepalives carry no frame), so a pooled connection idle this
// long is closed here; the forwarder checks for a closed peer before reuse (alive) and
// dials anew. A variable so that tests can shorten it.
var forwardIdleTimeout = 5 * time.Minute

// errNotLeader is an answer from a node that is not the leader and did nothing: the request
// may be sent again to the leader. It matches ErrNotController too.
var errNotLeader = fmt.Errorf("%w (nothing was proposed)", ErrNotController)

// errUnreachable is a leader that could not be reached before anything was sent.
var errUnreachable = errors.New("metadata: cannot reach the quorum leader")

// wireErrors are the errors whose identity crosses the wire; a bit per entry, in this
// order, which is part of the protocol: append only.
var wireErrors = []error{
	ErrNotController, errNotLeader, ErrClosed, ErrUnknownRecord, ErrCorruptRecord,
	ErrInvalidRecord, ErrInvalidTopicName, ErrTopicExists, ErrUnknownTopic,
	ErrInvalidPartitions, ErrInvalidReplicas, ErrProducerIDsUnavailable, ErrACLExists,
	ErrUnknownACL, ErrUnknownScramCredential, ErrNodeIDMismatch, context.DeadlineExceeded,
	context.Canceled, ErrElectionNotNeeded, ErrPreferredLeaderNotAvailable, ErrEligibleLeadersNotAvailable,
	ErrStaleBrokerEpoch, ErrBrokerIDNotRegistered,
}

// remoteError is an error answered by another node: its text, and the sentinels it matched
// there.
type remoteError struct {
	message string
	mask    uint32
}

func (e *remoteError) Error() string { return e.message }

// Is matches the sentinels the error matched where it was made.
func (e *remoteError) Is(target error) bool {
	for i, w := range wireErrors {
		if e.mask&(1<<i) != 0 && w == target {
			return true
		}
	}
	return false
}

func errorMask(err error) uint32 {
	var mask uint32
	for i, w := range wireErrors {
		if errors.Is(err, w) {
			mask |= 1 << i
		}
	}
	return mask
}

// forwarder is the client side: a small pool of connections per leader address. Calls run
// on the caller's goroutine; the connections belong to the Store's muxStream, so Close
// ends any call in flight.
type forwarder struct {
	stream *muxStream
	mu     sync.Mutex
	idle   map[string][]*muxConn // guarded by mu
}

func newForwarder(stream *muxStream) *forwarder {
	return &forwarder{stream: stream, idle: make(map[string][]*muxConn)}
}

// call sends one request to addr and returns the answer's index, or its error and the
// answering node's leader hint. errUnreachable means nothing was sent; an error after
// sending wraps ErrNotController (the outcome is unknown, as Kafka's NOT_CONTROLLER after
// a timeout).
func (f *forwarder) call(ctx context.Context, addr string, kind byte, body []byte) (uint64, string, error) {
	answer, err := f.exchange(ctx, addr, kind, body)
	if err != nil {
		return 0, "", err
	}
	return decodeAnswer(answer)
}

// callPayload is call for the kinds answered with a payload (reqDescribeQuorum).
func (f *forwarder) callPayload(ctx context.Context, addr string, kind byte, body []byte) ([]byte, string, error) {
	answer, err := f.exchange(ctx, addr, kind, body)
	if err != nil {
		return nil, "", err
	}
	if len(answer) >= 1 && answer[0] == answerPayload {
		return answer[1:], "", nil
	}
	_, leader, err := decodeAnswer(answer)
	if err == nil { // an index where a payload was due: a peer that misread the kind
		err = fmt.Errorf("%w: forwarding answer of kind %d carries no payload", ErrNotController, kind)
	}
	return nil, leader, err
}

// exchange sends one request frame to addr and returns the answer frame, undecoded.
func (f *forwarder) exchange(ctx context.Context, addr string, kind byte, body []byte) ([]byte, error) {
	deadline := time.Now().Add(forwardTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	timeout := time.Until(deadline)
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	c, err := f.get(addr)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", errUnreachable, addr, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.SetDeadline(deadline)

	frame := make([]byte, 4, 9+len(body))
	frame = append(frame, kind)
	frame = binary.BigEndian.AppendUint32(frame, uint32(timeout.Milliseconds()))
	frame = append(frame, body...)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := c.Write(frame); err != nil {
		c.Close()
		return nil, f.lost(ctx, addr, err)
	}
	answer, err := readFrame(c)
	if err != nil {
		c.Close()
		return nil, f.lost(ctx, addr, err)
	}
	_ = c.SetDeadline(time.Time{})
	f.put(addr, c)
	return answer, nil
}

// lost is the error of a call whose connection failed after the request may have left.
func (f *forwarder) lost(ctx context.Context, addr string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("metadata: forwarding to the leader at %s (it may still be applied): %w", addr, ctxErr)
	}
	return fmt.Errorf("%w: forwarding to the leader at %s (it may still be applied): %v", ErrNotController, addr, err)
}

// get returns an idle connection to addr that is still open, or dials a new one.
func (f *forwarder) get(addr string) (*muxConn, error) {
	for {
		f.mu.Lock()
		conns := f.idle[addr]
		if len(conns) == 0 {
			f.mu.Unlock()
			break
		}
		c := conns[len(conns)-1]
		f.idle[addr] = conns[:len(conns)-1]
		f.mu.Unlock()
		if alive(c) {
			return c, nil
		}
		c.Close()
	}
	nc, err := f.stream.Dial(raft.ServerAddress(addr), forwardDialTimeout)
	if err != nil {
		return nil, err
	}
	c := nc.(*muxConn)
	_ = c.SetWriteDeadline(time.Now().Add(forwardDialTimeout))
	if _, err := c.Write([]byte{forwardMagic}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// alive tells whether an idle connection's peer is still there: a read that would block
// means open; EOF or a reset means the peer closed it (it restarted), and reusing it would
// make an unsent request look like a lost one.
func alive(c *muxConn) bool {
	// A deadline already past fails before reading; a millisecond lets the read see a FIN.
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Conn.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (f *forwarder) put(addr string, c *muxConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.idle[addr]) >= forwardIdlePerAddr {
		c.Close()
		return
	}
	f.idle[addr] = append(f.idle[addr], c)
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n == 0 || n > maxForwardFrame {
		return nil, fmt.Errorf("metadata: forwarding frame of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func decodeAnswer(b []byte) (uint64, string, error) {
	switch {
	case len(b) == 9 && b[0] == answerIndex:
		return binary.BigEndian.Uint64(b[1:]), "", nil
	case len(b) >= 5 && b[0] == answerError:
		mask := binary.BigEndian.Uint32(b[1:])
		msg, rest, ok := readString(b[5:])
		if !ok {
			break
		}
		leader, _, ok := readString(rest)
		if !ok {
			break
		}
		return 0, leader, &remoteError{message: msg, mask: mask}
	}
	return 0, "", fmt.Errorf("%w: malformed forwarding answer", ErrNotController)
}

func readString(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

func appendString(b []byte, s string) []byte {
	if len(s) > 0xFFFF {
		s = s[:0xFFFF]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// forwardConn serves one forwarding connection: requests in order, one answer each, until
// the client closes it, the Store closes, or no request comes for forwardIdleTimeout.
func (s *Store) forwardConn(c net.Conn) {
	select {
	case <-s.started: // a peer may connect while raft is still starting
	case <-s.closing:
		return
	}
	idle := forwardIdleTimeout
	r := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idle))
		req, err := readFrame(r)
		if err != nil || len(req) < 5 {
			return
		}
		kind, timeout := req[0], time.Duration(binary.BigEndian.Uint32(req[1:5]))*time.Millisecond
		ctx, cancel := context.WithTimeout(s.ctx, min(timeout, forwardTimeout))
		answer := s.answer(ctx, kind, req[5:])
		cancel()
		_ = c.SetWriteDeadline(time.Now().Add(forwardDialTimeout))
		if _, err := c.Write(answer); err != nil {
			return
		}
	}
}

// answer does what a forwarded request asks and returns the answer frame: a payload for
// the payload kinds, else an index; an error for either.
func (s *Store) answer(ctx context.Context, kind byte, body []byte) []byte {
	answer := make([]byte, 4, 64)
	if kind == reqDescribeQuorum {
		payload, err := s.serveDescribeQuorum()
		if err != nil {
			return s.errorAnswer(answer, err)
		}
		answer = append(append(answer, answerPayload), payload...)
	} else {
		index, err := s.serveRequest(ctx, kind, body)
		if err != nil {
			return s.errorAnswer(answer, err)
		}
		answer = binary.BigEndian.AppendUint64(append(answer, answerIndex), index)
	}
	binary.BigEndian.PutUint32(answer, uint32(len(answer)-4))
	return answer
}

// errorAnswer appends err's answer to answer (its length prefix reserved) and fills in
// the length; the leader hint lets the caller retry where the leader is.
func (s *Store) errorAnswer(answer []byte, err error) []byte {
	leader, _ := s.raft.LeaderWithID()
	answer = append(answer, answerError)
	answer = binary.BigEndian.AppendUint32(answer, errorMask(err))
	answer = appendString(answer, err.Error())
	answer = appendString(answer, string(leader))
	binary.BigEndian.PutUint32(answer, uint32(len(answer)-4))
	return answer
}

// serveRequest does what a forwarded request asks, here, if this node leads.
func (s *Store) serveRequest(ctx context.Context, kind byte, body []byte) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, errNotLeader
	}
	switch kind {
	case reqPropose:
		rec, err := DecodeRecord(body)
		if err != nil {
			return 0, err
		}
		return s.applyLocal(ctx, rec, body)
	case reqJoin:
		if len(body) < 5 {
			return 0, fmt.Errorf("%w: malformed join request", ErrInvalidRecord)
		}
		return s.addNonvoter(ctx, int32(binary.BigEndian.Uint32(body)), string(body[4:]))
	case reqHeartbeat, reqShutdown, reqElect, reqRegister:
		return s.serveBrokerRequest(ctx, kind, body)
	case reqReadIndex:
		select {
		case <-s.ready: // this leader has replayed its log: its Image is current
			return s.fsm.Image().Index(), nil
		default:
			return 0, errNotLeader
		}
	}
	return 0, fmt.Errorf("%w: unknown forwarding request kind %d", ErrInvalidRecord, kind)
}

// addNonvoter adds a broker-only node to the quorum as a non-voter, which makes the leader
// replicate the log and snapshots to it. A voter's ID is refused: voters come from
// controller.quorum.voters only.
func (s *Store) addNonvoter(ctx context.Context, id int32, addr string) (uint64, error) {
	if _, ok := s.voters[id]; ok {
		return 0, fmt.Errorf("%w: node %d is a voter and cannot join as a broker-only node", ErrNodeIDMismatch, id)
	}
	timeout := time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := s.raft.AddNonvoter(raft.ServerID(strconv.Itoa(int(id))), raft.ServerAddress(addr), 0, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return 0, errNotLeader
		}
		return 0, fmt.Errorf("metadata: add node %d to the quorum: %w", id, err)
	}
	s.logger.Info("metadata quorum: broker-only node joined", "node_id", id, "addr", addr)
	return f.Index(), nil
}

// toLeader runs a request on the leader: here when this node leads (local), else forwarded.
// It retries, with backoff, while no leader is known or the one asked no longer leads (in
// both cases nothing was done); other errors are returned.
func (s *Store) toLeader(ctx context.Context, kind byte, body []byte, local func(context.Context) (uint64, error)) (uint64, error) {
	backoff := forwardBackoffMin
	var hint string
	var voterTurn int
	for {
		var (
			index uint64
			err   error
		)
		if s.raft.State() == raft.Leader {
			index, err = local(ctx)
		} else {
			addr, _ := s.raft.LeaderWithID()
			target := string(addr)
			if target == "" {
				target, hint = hint, ""
			}
			if target == "" && len(s.voterAddrs) > 0 {
				// No leader known (a broker-only node before it joins): ask the voters in turn.
				target = s.voterAddrs[voterTurn%len(s.voterAddrs)]
				voterTurn++
			}
			if target == "" {
				err = errNotLeader
			} else {
				index, hint, err = s.fwd.call(ctx, target, kind, body)
			}
		}
		if err == nil || !(errors.Is(err, errNotLeader) || errors.Is(err, errUnreachable)) {
			return index, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("metadata: no quorum leader answered (last: %v): %w", err, ctx.Err())
		case <-s.closing:
			return 0, ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, forwardBackoffMax)
	}
}

// waitApplied waits until this node's Image includes the record at index, which the leader
// has applied: callers of Propose read Image right after it returns.
func (s *Store) waitApplied(ctx context.Context, index uint64) error {
	if s.fsm.Image().Index() >= index {
		return nil
	}
	changed, cancel := s.Watch()
	defer cancel()
	for {
		if s.fsm.Image().Index() >= index {
			return nil
		}
		if err := s.fsm.Err(); err != nil {
			return err
		}
		select {
		case _, ok := <-changed:
			if !ok {
				return ErrClosed
			}
		case <-ctx.Done():
			return fmt.Errorf("metadata: waiting to apply index %d (it is committed): %w", index, ctx.Err())
		}
	}
}
