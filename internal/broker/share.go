package broker

import (
	"fmt"

	"github.com/nagare-dev/nagare/internal/interbroker"
	"github.com/nagare-dev/nagare/internal/share"
)

// openShares makes the share-partition manager (KIP-932 share groups' data plane) and
// the share state coordinator of the __share_group_state partitions this broker leads.
// A share-partition's state is read and written on the leader of its state partition:
// here through the coordinator, elsewhere through ReadShareGroupState and
// WriteShareGroupState sent to that broker's registered address, as the transaction
// markers are. The group coordinator tells the manager when a share group member
// leaves so its records are released.
func (b *Broker) openShares() {
	coord := &share.Coordinator{Log: &share.LogStore{Partitions: b.partitions, Image: b.meta.Image}}
	store := &share.RoutedStore{NodeID: b.nodeID, Image: b.meta.Image, Local: coord,
		Peers: &share.Peers{Clients: interbroker.NewClients(b.meta.Image,
			fmt.Sprintf("nagare-share-state-%d", b.nodeID), b.interBroker.KgoOpts())}}
	b.shares = share.New(share.Config{Partitions: b.partitions, Store: store, Coordinator: coord,
		Settings: share.SettingsFrom(b.conf), Logger: b.logger})
}

// shareMemberGone releases what a departed share group member held.
func (b *Broker) shareMemberGone(groupID, memberID string) {
	if b.shares != nil {
		b.shares.MemberGone(groupID, memberID)
	}
}
