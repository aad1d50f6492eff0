package broker

import (
	"context"
	"fmt"
	"strings"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// register registers this process's incarnation with the active controller (KIP-631):
// every advertised listener, the inter-broker listener's address as the one other brokers
// dial, and a new incarnation ID, so that this process gets a broker epoch of its own. In
// a cluster the controller registers a new incarnation fenced and moves the previous
// process's leaderships away first; the first heartbeat unfences it (controller.go). A
// one-node cluster registers unfenced: there is nowhere to move anything.
func (b *Broker) register(ctx context.Context) error {
	reg, err := b.registration()
	if err != nil {
		return err
	}
	b.control.incarnation = reg.IncarnationID
	epoch, err := b.meta.RegisterBroker(ctx, reg)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.control.epoch = epoch
	b.logger.Info("broker registered", "node_id", b.nodeID, "broker_epoch", epoch, "incarnation", reg.IncarnationID,
		"inter_broker_address", fmt.Sprintf("%s:%d", reg.Host, reg.Port))
	return nil
}

// registration is this broker's RegisterBroker record.
func (b *Broker) registration() (metadata.RegisterBroker, error) {
	reg := metadata.RegisterBroker{NodeID: b.nodeID, Rack: b.conf.String("broker.rack"),
		IncarnationID: metadata.NewIncarnationID(), Fenced: b.conf.Clustered()}
	for _, l := range b.conf.Listeners() {
		host, port, ok := b.advertisedAddr(l.Name) // security.go
		if !ok {
			return reg, fmt.Errorf("broker: listener %s has no address to advertise", l.Name)
		}
		proto, _ := b.conf.SecurityProtocol(l.Name)
		reg.Listeners = append(reg.Listeners, metadata.Endpoint{Name: l.Name, Host: host, Port: port, SecurityProtocol: proto})
	}
	inter := interBrokerListener(b.conf)
	for _, e := range reg.Listeners {
		if e.Name == inter {
			reg.Host, reg.Port = e.Host, e.Port
		}
	}
	if reg.Host == "" {
		return reg, fmt.Errorf("broker: inter-broker listener %s is not one of the listeners", inter)
	}
	return reg, nil
}

// interBrokerListener is inter.broker.listener.name, else the listener named PLAINTEXT
// (Kafka's default, security.inter.broker.protocol=PLAINTEXT), else the first listener.
func interBrokerListener(conf *config.Broker) string {
	if name := conf.String("inter.broker.listener.name"); name != "" {
		return strings.ToUpper(name)
	}
	listeners := conf.Listeners()
	for _, l := range listeners {
		if l.Name == config.ProtocolPlaintext {
			return l.Name
		}
	}
	if len(listeners) == 0 {
		return ""
	}
	return listeners[0].Name
}
