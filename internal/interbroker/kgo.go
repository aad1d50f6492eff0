package interbroker

import "github.com/twmb/franz-go/pkg/kgo"

// KgoOpts are the franz-go options that make a client speak the inter-broker listener's
// protocol: TLS (franz-go sets the server name per broker) and SASL (franz-go
// re-authenticates before a session lifetime runs out). Nil settings are PLAINTEXT.
func (s *Settings) KgoOpts() []kgo.Opt {
	if s == nil {
		return nil
	}
	var opts []kgo.Opt
	if s.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(s.TLS.Clone()))
	}
	if m := s.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}
