package api

import "github.com/twmb/franz-go/pkg/kerr"

// Request versions from which a client understands THROTTLING_QUOTA_EXCEEDED (KIP-599):
// below them the mutation quota is permissive, serving the request and only throttling.
const (
	createTopicsStrictVersion     = 6
	deleteTopicsStrictVersion     = 5
	createPartitionsStrictVersion = 3
)

// mutationQuota charges a request's partition creations and deletions to its client's
// controller_mutation_rate (KIP-599). The zero value charges nothing (auto-created
// topics, as Kafka leaves those unbounded).
type mutationQuota struct {
	r      *request
	strict bool // refuse, rather than only throttle, once the quota is exhausted
}

// mutationQuota returns the request's mutation quota, strict from strictFrom on.
func (r *request) mutationQuota(strictFrom int16) mutationQuota {
	return mutationQuota{r: r, strict: r.header.Version >= strictFrom}
}

// admit charges n partition mutations, or refuses them with THROTTLING_QUOTA_EXCEEDED
// when the quota is already exhausted and the client can take that error. As Kafka's,
// the check comes before the charge, so one topic may overdraw the quota; its throttle
// then goes out with the response.
func (q mutationQuota) admit(n int) error {
	if q.r == nil || q.r.quota.manager == nil {
		return nil
	}
	m, user, clientID := q.r.quota.manager, q.r.session.Principal(), q.r.header.ClientID
	if q.strict {
		if d := m.MutationThrottle(user, clientID); d > 0 {
			q.r.quota.mutationThrottle = max(q.r.quota.mutationThrottle, d)
			return newError(kerr.ThrottlingQuotaExceeded, "The throttling quota has been exceeded.")
		}
	}
	q.r.quota.mutationThrottle = max(q.r.quota.mutationThrottle, m.RecordMutations(user, clientID, n))
	return nil
}
