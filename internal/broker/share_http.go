package broker

import "net/http"

// serveShareGroups answers /v1/share-groups: the in-flight state of every
// share-partition this broker leads (start and end offsets, counts by record state).
// Only the data leader holds it, so an operator asks each broker; an optional ?group=
// keeps one group.
func (b *Broker) serveShareGroups(w http.ResponseWriter, r *http.Request) {
	if !b.ready.Load() || b.shares == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	views := b.shares.Views()
	if g := r.URL.Query().Get("group"); g != "" {
		kept := views[:0]
		for _, v := range views {
			if v.Group == g {
				kept = append(kept, v)
			}
		}
		views = kept
	}
	writeJSON(w, views)
}
