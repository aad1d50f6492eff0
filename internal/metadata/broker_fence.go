package metadata

import "fmt"

// FenceBroker marks a broker fenced, as Kafka's FenceBrokerRecord: the active controller
// writes it when the broker's session lapses (no heartbeat for broker.session.timeout.ms)
// or its controlled shutdown ends. A fenced broker stays registered, so that its replica
// assignments stay valid, but Metadata and DescribeCluster leave it out, no new replica is
// placed on it and the controller elects no leader on it.
type FenceBroker struct {
	NodeID int32 `json:"nodeId"`
}

// UnfenceBroker clears FenceBroker, as Kafka's UnfenceBrokerRecord: the active controller
// writes it when a fenced broker heartbeats again.
type UnfenceBroker struct {
	NodeID int32 `json:"nodeId"`
}

// Type implements Record.
func (FenceBroker) Type() RecordType { return RecordFenceBroker }

// Type implements Record.
func (UnfenceBroker) Type() RecordType { return RecordUnfenceBroker }

func (FenceBroker) isRecord()   {}
func (UnfenceBroker) isRecord() {}

// applyFence sets a registered broker's fenced flag. Setting it to what it already is
// succeeds and changes nothing but the index: a controller that lost leadership between
// reading the Image and proposing may repeat what its successor did.
func (img *Image) applyFence(nodeID int32, fenced bool, index uint64) (*Image, error) {
	b, ok := img.Broker(nodeID)
	if !ok {
		return nil, fmt.Errorf("%w: broker %d is not registered", ErrInvalidRecord, nodeID)
	}
	b.Fenced = fenced
	return img.withBroker(index, b), nil
}

// UnfencedBrokers returns the registered brokers that are not fenced, sorted by node ID:
// the brokers clients may use and new replicas may be placed on.
func (img *Image) UnfencedBrokers() []Broker {
	out := make([]Broker, 0, len(img.brokers))
	for _, b := range img.brokers {
		if !b.Fenced {
			out = append(out, b)
		}
	}
	return out
}
