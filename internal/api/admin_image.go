package api

import (
	"context"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// catchUpTimeout bounds how long an admin request waits for this broker's metadata to
// catch up with the controller's before it answers that a topic does not exist.
const catchUpTimeout = 5 * time.Second

// adminImages gives one admin write (configs, partitions, deletion, reassignment) the
// image to look its topics up in: this broker's own while it knows them; on the first
// miss, the one it has after catching up with the quorum (metadata.Store.CatchUp). Kafka
// forwards these requests to the controller, which knows every topic it created; a
// broker's image can lag by the records it has still to apply, and a client that saw the
// topic through another broker would take the lag for an error. One catch-up per
// request, however many unknown topics it names: a request for ten thousand of them
// costs one round trip to the leader, not ten thousand. When the catch-up fails the
// broker's own image answers. Used by one request's goroutine at a time.
type adminImages struct {
	d        *Dispatcher
	caughtUp bool // this request has caught up (or tried): later misses are answers
}

func (d *Dispatcher) newAdminImages() *adminImages { return &adminImages{d: d} }

// byName returns the image to find topic in.
func (a *adminImages) byName(ctx context.Context, topic string) *metadata.Image {
	return a.image(ctx, func(img *metadata.Image) bool {
		_, ok := img.TopicByName(topic)
		return ok
	})
}

// byID returns the image to find the topic with id in.
func (a *adminImages) byID(ctx context.Context, id metadata.TopicID) *metadata.Image {
	return a.image(ctx, func(img *metadata.Image) bool {
		_, ok := img.TopicByID(id)
		return ok
	})
}

func (a *adminImages) image(ctx context.Context, known func(*metadata.Image) bool) *metadata.Image {
	img := a.d.cfg.Metadata.Image()
	if a.caughtUp || known(img) {
		return img
	}
	a.caughtUp = true
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := a.d.cfg.Metadata.CatchUp(ctx); err != nil {
		a.d.cfg.Logger.Debug("admin request: metadata catch-up failed; answering from this broker's image", "err", err)
		return img
	}
	return a.d.cfg.Metadata.Image()
}
