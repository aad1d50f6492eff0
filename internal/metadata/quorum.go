package metadata

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/raft"
)

// QuorumNodes returns the node IDs in this node's copy of the quorum's raft configuration:
// the voters and the observers (broker-only nodes that joined as non-voters), the two
// lists Kafka's DescribeQuorum reports. Only the leader's copy is sure to be current.
func (s *Store) QuorumNodes() (voters, observers []int32, err error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, fmt.Errorf("metadata: quorum configuration: %w", err)
	}
	for _, srv := range f.Configuration().Servers {
		id, err := strconv.ParseInt(string(srv.ID), 10, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("metadata: quorum configuration: server ID %q: %w", srv.ID, err)
		}
		if srv.Suffrage == raft.Voter {
			voters = append(voters, int32(id))
		} else {
			observers = append(observers, int32(id))
		}
	}
	return voters, observers, nil
}
