package metadata

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Broker registration follows Kafka's KIP-631: every process start registers with a new
// random incarnation ID; the registration's index in the metadata log becomes the broker
// epoch, which the broker's heartbeats, controlled shutdown and replica fetches carry, so
// that the requests of a process that has since restarted are told apart and refused. A
// new incarnation is registered fenced and is unfenced by a heartbeat once its metadata
// has caught up with its registration.

// Endpoint is one advertised listener of a broker, as in Kafka's RegisterBrokerRecord.
type Endpoint struct {
	Name             string `json:"name"` // upper-cased listener name, e.g. PLAINTEXT
	Host             string `json:"host"`
	Port             int32  `json:"port"`
	SecurityProtocol string `json:"securityProtocol"`
}

// NewIncarnationID returns a random ID for one process start of a broker.
func NewIncarnationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// recordVersion writes version 0 for a registration that uses none of version 1's fields,
// so that nodes predating broker epochs keep reading it.
func (r RegisterBroker) recordVersion() uint8 {
	if r.IncarnationID != "" || r.BrokerEpoch != 0 || r.Fenced || len(r.Listeners) > 0 {
		return 1
	}
	return 0
}

// Endpoint returns the broker's address on the named listener (case-insensitive). A
// registration without listeners (written before they were recorded) answers its one
// address for every name.
func (b Broker) Endpoint(listener string) (host string, port int32, ok bool) {
	if len(b.Listeners) == 0 {
		return b.Host, b.Port, true
	}
	for _, e := range b.Listeners {
		if strings.EqualFold(e.Name, listener) {
			return e.Host, e.Port, true
		}
	}
	return "", 0, false
}

// registrationOf is the record that registers b as it is, for snapshots: it keeps the
// epoch and incarnation, so that a node restored from a snapshot refuses the same stale
// requests as the others.
func registrationOf(b Broker) RegisterBroker {
	return RegisterBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack,
		IncarnationID: b.IncarnationID, BrokerEpoch: b.Epoch, Listeners: b.Listeners}
}

func (img *Image) applyRegisterBroker(r RegisterBroker, index uint64) (*Image, error) {
	if r.NodeID < 0 {
		return nil, fmt.Errorf("%w: broker node ID %d is negative", ErrInvalidRecord, r.NodeID)
	}
	if err := validEndpoint(r.Host, r.Port); err != nil {
		return nil, fmt.Errorf("%w: broker %d: %v", ErrInvalidRecord, r.NodeID, err)
	}
	for _, e := range r.Listeners {
		if err := validEndpoint(e.Host, e.Port); err != nil || e.Name == "" {
			return nil, fmt.Errorf("%w: broker %d listener %q: %v", ErrInvalidRecord, r.NodeID, e.Name, err)
		}
	}
	b := Broker{NodeID: r.NodeID, Host: r.Host, Port: r.Port, Rack: r.Rack, IncarnationID: r.IncarnationID,
		Epoch: int64(index), Fenced: r.Fenced, Listeners: slices.Clone(r.Listeners)}
	cur, exists := img.Broker(r.NodeID)
	switch {
	case r.BrokerEpoch != 0: // a snapshot's copy of a registration
		b.Epoch = r.BrokerEpoch
	case exists && r.IncarnationID != "" && cur.IncarnationID == r.IncarnationID:
		// A retry of the running incarnation's registration: the same process, the same
		// epoch, and its fencing state as it is.
		b.Epoch, b.Fenced = cur.Epoch, cur.Fenced
	case exists && !r.Fenced:
		// A registration that does not ask to be fenced (written before incarnations
		// existed, or by a one-node cluster): only a heartbeat unfences.
		b.Fenced = cur.Fenced
	}
	return img.withBroker(index, b), nil
}

func validEndpoint(host string, port int32) error {
	if host == "" || port <= 0 || port > math.MaxUint16 {
		return fmt.Errorf("address %q port %d", host, port)
	}
	return nil
}
