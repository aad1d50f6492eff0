package group

import (
	"regexp"
	"slices"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// Target assignment and reconciliation of KIP-848 groups.
//
// The group epoch counts changes of what the target depends on (members, their
// subscriptions, the partitions of the subscribed topics); each change recomputes the
// target at once, so the assignment epoch always equals the group epoch here (Kafka
// computes it asynchronously). A member moves towards its target in steps, each one
// confirmed by its heartbeats:
//
//  1. It keeps its partitions that are in the target, and is told to revoke the rest;
//     its member epoch stays the old one while it has partitions to revoke.
//  2. Once a heartbeat's owned partitions no longer include any being revoked, those are
//     released; the member moves to the assignment epoch and is given the target's
//     partitions that no other member still owns (assigned or being revoked).
//  3. Partitions still owned by others are added on later heartbeats, once released.
//
// So no partition is ever in two members' assignments: the revocation rule.

// topicShape is what the target depended on of a topic.
type topicShape struct {
	id         metadata.TopicID
	partitions int32
}

// internalTopics are never matched by a subscription regex, as in Kafka.
var internalTopics = map[string]bool{OffsetsTopic: true, "__transaction_state": true}

// resolveLocked returns a member's subscribed topics that exist in img.
func (m *consumerMember) resolve(img *metadata.Image) map[string]bool {
	out := map[string]bool{}
	if img == nil {
		return out
	}
	for _, t := range m.topics {
		if _, ok := img.TopicByName(t); ok {
			out[t] = true
		}
	}
	if m.regex != nil {
		for _, t := range img.Topics() {
			if !internalTopics[t.Name] && m.regex.MatchString(t.Name) {
				out[t.Name] = true
			}
		}
	}
	return out
}

// compileSubscriptionRegex compiles a subscription as Kafka's RE2J does: the whole
// topic name must match.
func compileSubscriptionRegex(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// maybeRebalanceLocked bumps the group epoch and recomputes the target when members
// or subscriptions changed (cg.dirty) or the subscribed topics' partitions did.
func (cg *consumerGroup) maybeRebalanceLocked(img *metadata.Image) {
	members := cg.sortedMembers()
	resolved := make(map[string]map[string]bool, len(members))
	shapes := map[string]topicShape{}
	for _, m := range members {
		resolved[m.id] = m.resolve(img)
		for t := range resolved[m.id] {
			if topic, ok := img.TopicByName(t); ok {
				shapes[t] = topicShape{id: topic.ID, partitions: int32(len(topic.Partitions))}
			}
		}
	}
	if !cg.dirty && mapsEqual(shapes, cg.shapes) {
		return
	}
	cg.dirty = false
	cg.shapes = shapes
	cg.epoch++
	cg.assignor = cg.chooseAssignor()
	in := make([]assignorMember, 0, len(members))
	for _, m := range members {
		in = append(in, assignorMember{id: m.id, topics: resolved[m.id], current: cg.target[m.id]})
	}
	counts := make(map[string]int32, len(shapes))
	for t, s := range shapes {
		counts[t] = s.partitions
	}
	cg.target = assignors[cg.assignor](in, counts)
	cg.assignmentEpoch = cg.epoch
}

func mapsEqual(a, b map[string]topicShape) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// chooseAssignor picks the assignor most members ask for (ties: by name); members
// that name none leave the choice to the others, or to the default.
func (cg *consumerGroup) chooseAssignor() string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	best, bestVotes := defaultAssignor, 0
	names := make([]string, 0, len(votes))
	for n := range votes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if votes[n] > bestVotes {
			best, bestVotes = n, votes[n]
		}
	}
	return best
}

// ownersLocked maps every partition some member owns (assigned or being revoked) to
// that member.
func (cg *consumerGroup) owners() map[TopicPartition]string {
	out := map[TopicPartition]string{}
	for _, m := range cg.members {
		for tp := range m.assigned {
			out[tp] = m.id
		}
		for tp := range m.revoking {
			out[tp] = m.id
		}
	}
	return out
}

// reconcile moves m one step towards its target. owned is what the member reported
// owning; nil when it did not say (unchanged since its last heartbeat).
func (cg *consumerGroup) reconcile(m *consumerMember, owned partSet, now time.Time) {
	if len(m.revoking) > 0 {
		if owned == nil {
			return
		}
		for tp := range m.revoking {
			if owned.has(tp) {
				return // not revoked yet
			}
		}
		m.revoking = nil
		m.revokeDeadline = time.Time{}
	}
	target := cg.target[m.id]
	keep, revoke := partSet{}, partSet{}
	for tp := range m.assigned {
		if target.has(tp) {
			keep[tp] = struct{}{}
		} else {
			revoke[tp] = struct{}{}
		}
	}
	if len(revoke) > 0 {
		m.assigned, m.revoking = keep, revoke
		m.revokeDeadline = now.Add(m.rebalanceTimeout)
		return
	}
	owners := cg.owners()
	for tp := range target {
		if o := owners[tp]; o == "" || o == m.id {
			keep[tp] = struct{}{}
		}
	}
	m.assigned = keep
	if m.epoch != cg.assignmentEpoch {
		m.previousEpoch, m.epoch = m.epoch, cg.assignmentEpoch
	}
}

// reconciled reports whether m has its whole target at the assignment epoch.
func (cg *consumerGroup) reconciled(m *consumerMember) bool {
	return m.epoch == cg.assignmentEpoch && len(m.revoking) == 0 && m.assigned.equal(cg.target[m.id])
}
