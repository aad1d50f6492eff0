package api

import (
	"context"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// catchUpTimeout bounds how long an admin request waits for this broker's metadata to
// catch up with the controller's before it answers that a topic does not exist.
const catchUpTimeout = 5 * time.Second

// adminImage returns an image for an admin write (configs, partitions, deletion,
// reassignment) naming a topic: this broker's own when it knows the topic, else the one
// it has after catching up with the quorum (metadata.Store.CatchUp). Kafka forwards
// these requests to the controller, which knows every topic it created; a broker's image
// can lag by the records it has still to apply, and a client that saw the topic through
// another broker would take the lag for an error. When the catch-up fails the broker's
// own image answers.
func (d *Dispatcher) adminImage(ctx context.Context, topic string) *metadata.Image {
	return d.adminImageFor(ctx, func(img *metadata.Image) bool {
		_, ok := img.TopicByName(topic)
		return ok
	})
}

// adminImageByID is adminImage for a topic named by its ID.
func (d *Dispatcher) adminImageByID(ctx context.Context, id metadata.TopicID) *metadata.Image {
	return d.adminImageFor(ctx, func(img *metadata.Image) bool {
		_, ok := img.TopicByID(id)
		return ok
	})
}

func (d *Dispatcher) adminImageFor(ctx context.Context, known func(*metadata.Image) bool) *metadata.Image {
	img := d.cfg.Metadata.Image()
	if known(img) {
		return img
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := d.cfg.Metadata.CatchUp(ctx); err != nil {
		d.cfg.Logger.Debug("admin request: metadata catch-up failed; answering from this broker's image", "err", err)
		return img
	}
	return d.cfg.Metadata.Image()
}
