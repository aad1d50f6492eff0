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
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// softwareNamePattern is Kafka's rule for client software names and versions.
var softwareNamePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func (d *Dispatcher) handleAPIVersions(_ context.Context, r *request) {
	req := r.body.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if r.header.Version >= 3 {
		if !softwareNamePattern.MatchString(req.ClientSoftwareName) || !softwareNamePattern.MatchString(req.ClientSoftwareVersion) {
			resp.ErrorCode = kerr.InvalidRequest.Code
		} else {
			r.session.SetClientSoftware(req.ClientSoftwareName, req.ClientSoftwareVersion)
		}
	}
	resp.ApiKeys = d.apiKeys()
	r.respond(resp)
}

// unsupportedAPIVersions answers an ApiVersions request of a version we do not speak.
func (d *Dispatcher) unsupportedAPIVersions(h Header, reply *Reply) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = d.apiKeys()
	h.Version = 0
	reply.SendBytes(encodeResponse(h, resp))
}

func (d *Dispatcher) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for _, e := range d.apis {
		if e != nil {
			keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: e.key, MinVersion: e.min, MaxVersion: e.max})
		}
	}
	return keys
}
