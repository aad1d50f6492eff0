package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener is one entry of listeners or advertised.listeners. It lives here so the table can
// reject a malformed value when the broker starts, and the server package reads the parsed
// form instead of parsing the text a second way.
type Listener struct {
	Name string // upper-cased, as Kafka normalises listener names
	Host string // empty binds every interface; IPv6 without brackets
	Port int
}

// String prints the listener as it is written in the config.
func (l Listener) String() string {
	host := l.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return l.Name + "://" + host + ":" + strconv.Itoa(l.Port)
}

// Security protocols a listener can use, with Kafka's names.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// ParseListeners parses a comma-separated listener list such as
// "PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9093". An empty string is an empty list. Names
// must be unique (Kafka requires it; the same port may appear under two names only with
// IPv4 and IPv6 hosts, which this does not check).
func ParseListeners(s string) ([]Listener, error) {
	var out []Listener
	for _, entry := range splitList(strings.TrimSpace(s)) {
		name, addr, ok := strings.Cut(entry, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("listener %q is not of the form NAME://host:port", entry)
		}
		i := strings.LastIndexByte(addr, ':')
		if i < 0 {
			return nil, fmt.Errorf("listener %q has no port", entry)
		}
		host, portText := addr[:i], addr[i+1:]
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("listener %q has an invalid port", entry)
		}
		l := Listener{Name: strings.ToUpper(name), Host: host, Port: port}
		for _, prev := range out {
			if prev.Name == l.Name {
				return nil, fmt.Errorf("listener name %s is repeated", l.Name)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// ParseVoters parses controller.quorum.voters ("id@host:port,..."), returning each voter's
// raft address by node ID. An empty string is no voters.
func ParseVoters(s string) (map[int32]string, error) {
	out := make(map[int32]string)
	for _, entry := range splitList(strings.TrimSpace(s)) {
		idText, addr, ok := strings.Cut(entry, "@")
		if !ok {
			return nil, fmt.Errorf("voter %q is not of the form id@host:port", entry)
		}
		id, err := strconv.ParseInt(idText, 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("voter %q: node id %q is not a non-negative integer", entry, idText)
		}
		host, portText, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return nil, fmt.Errorf("voter %q: %q is not a host:port address", entry, addr)
		}
		if port, err := strconv.Atoi(portText); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("voter %q has an invalid port", entry)
		}
		if _, dup := out[int32(id)]; dup {
			return nil, fmt.Errorf("voter id %d is repeated", id)
		}
		out[int32(id)] = addr
	}
	return out, nil
}

// ParseProtocolMap parses listener.security.protocol.map ("NAME:PROTOCOL,..."), returning
// upper-cased listener names mapped to one of the Protocol constants.
func ParseProtocolMap(s string) (map[string]string, error) {
	out := make(map[string]string)
	for _, entry := range splitList(strings.TrimSpace(s)) {
		name, proto, ok := strings.Cut(entry, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("entry %q is not of the form NAME:PROTOCOL", entry)
		}
		switch proto {
		case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		default:
			return nil, fmt.Errorf("entry %q: unknown security protocol %q", entry, proto)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("listener name %s is mapped twice", name)
		}
		out[name] = proto
	}
	return out, nil
}
