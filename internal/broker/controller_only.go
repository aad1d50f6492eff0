package broker

import (
	"context"
)

// startControllerOnly starts a node whose process.roles is controller only: a voter of the
// metadata quorum running the controller, with no Kafka listener, no partition logs and
// no broker registration, so it is never a replica and never in Metadata's broker list.
// It follows the metadata only for the dynamic configs the controller reads (the cluster
// default of unclean.leader.election.enable).
func (b *Broker) startControllerOnly(ctx context.Context) error {
	if err := b.openMetadata(ctx); err != nil {
		return err
	}
	b.startController() // controller.go
	b.applyDynamicConfigs()
	followCtx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.wg.Add(1)
	go b.followControllerConfigs(followCtx)
	b.ready.Store(true)
	b.logger.Info("controller ready", "node_id", b.nodeID, "quorum", b.meta.Addr(), "data_dir", b.dataDir)
	return nil
}

// followControllerConfigs applies dynamic broker configs from every metadata change.
func (b *Broker) followControllerConfigs(ctx context.Context) {
	defer b.wg.Done()
	changed, cancel := b.meta.Watch()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changed:
			if !ok {
				return
			}
			b.applyDynamicConfigs()
		}
	}
}

// IsBroker reports whether this node serves Kafka clients (process.roles includes broker,
// or is unset).
func (b *Broker) IsBroker() bool {
	isBroker, _ := b.conf.Roles()
	return isBroker
}
