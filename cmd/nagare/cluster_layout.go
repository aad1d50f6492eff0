package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// clusterLayout is the shape of a cluster up: how many brokers, and how many dedicated
// controller-only nodes (0: every broker is a combined node and a voter).
type clusterLayout struct {
	brokers     int
	controllers int
}

// clusterNodeSpec is one node of a cluster up before it starts: its id, its roles and
// its listeners. Every node has a CONTROLLER listener, a broker-only one too, because
// the quorum's leader sends the metadata log to each node.
type clusterNodeSpec struct {
	id         int
	roles      string   // process.roles
	client     string   // host:port of the PLAINTEXT listener; "" on a controller-only node
	controller string   // host:port of the CONTROLLER listener
	voters     []string // controller.quorum.voters, id@host:port
}

// plan gives each node its id, roles and free ports: the controller-only nodes first
// (ids 1..controllers), then the brokers.
func (l clusterLayout) plan(host string) ([]clusterNodeSpec, error) {
	total := l.brokers + l.controllers
	ports, err := freePorts(host, total+l.brokers)
	if err != nil {
		return nil, err
	}
	specs := make([]clusterNodeSpec, total)
	var voters []string
	for i := range specs {
		spec := &specs[i]
		spec.id = i + 1
		spec.controller = net.JoinHostPort(host, strconv.Itoa(ports[i]))
		spec.roles = "broker,controller"
		switch {
		case i < l.controllers:
			spec.roles = "controller"
		case l.controllers > 0:
			spec.roles = "broker"
		}
		if spec.roles != "controller" {
			spec.client = net.JoinHostPort(host, strconv.Itoa(ports[total+i-l.controllers]))
		}
		if l.controllers == 0 || i < l.controllers {
			voters = append(voters, fmt.Sprintf("%d@%s", spec.id, spec.controller))
		}
	}
	for i := range specs {
		specs[i].voters = voters
	}
	return specs, nil
}

func (s clusterNodeSpec) dir(root string) string {
	return filepath.Join(root, fmt.Sprintf("node-%d", s.id))
}

func (s clusterNodeSpec) logPath(root string) string {
	return filepath.Join(root, fmt.Sprintf("node-%d.log", s.id))
}

// serveSets are the node's --set arguments to `nagare serve`, the user's sets last so
// they can override any of them.
func (s clusterNodeSpec) serveSets(user []string) []string {
	listeners := "CONTROLLER://" + s.controller
	if s.client != "" {
		listeners = "PLAINTEXT://" + s.client + "," + listeners
	}
	props := []string{
		fmt.Sprintf("node.id=%d", s.id),
		"process.roles=" + s.roles,
		"listeners=" + listeners,
		"controller.listener.names=CONTROLLER",
		"controller.quorum.voters=" + strings.Join(s.voters, ","),
	}
	var args []string
	for _, p := range append(props, user...) {
		args = append(args, "--set", p)
	}
	return args
}

// bootstrapServers are the client addresses of the nodes that serve clients.
func bootstrapServers(nodes []*clusterNode) []string {
	var out []string
	for _, node := range nodes {
		if node.client != "" {
			out = append(out, node.client)
		}
	}
	return out
}
