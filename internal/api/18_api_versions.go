package api

// ApiVersions (key 18), v0-v4.
//
// Behaviour: lists exactly the registry's keys and versions. v3+ carries the client
// library's name and version, recorded on the session so operators see who connects.
// A version above v4 gets a v0 response with UNSUPPORTED_VERSION and the list, so the
// client can retry at a version we speak (KIP-511).
//
// Differs from Kafka: no finalized features are advertised yet.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// validSoftwareName is Kafka's rule for client software names and versions,
// ^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$, checked by hand: ApiVersions is among the
// most frequent requests of a client that reconnects often, and the regexp was its
// largest cost.
func validSoftwareName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (d *Dispatcher) handleAPIVersions(_ context.Context, r *request) {
	req := r.body.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if r.header.Version >= 3 {
		if !validSoftwareName(req.ClientSoftwareName) || !validSoftwareName(req.ClientSoftwareVersion) {
			resp.ErrorCode = kerr.InvalidRequest.Code
		} else {
			r.session.SetClientSoftware(req.ClientSoftwareName, req.ClientSoftwareVersion)
		}
	}
	resp.ApiKeys = d.versions
	r.respond(resp)
}

// unsupportedAPIVersions answers an ApiVersions request of a version we do not speak.
func (d *Dispatcher) unsupportedAPIVersions(h Header, reply *Reply) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = d.versions
	h.Version = 0
	reply.SendBytes(encodeResponse(h, resp))
}

// apiKeys lists what the registry serves, once, for every ApiVersions response to share
// (responses only read it).
func (d *Dispatcher) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for _, e := range d.apis {
		if e != nil {
			keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: e.key, MinVersion: e.min, MaxVersion: e.max})
		}
	}
	return keys
}
