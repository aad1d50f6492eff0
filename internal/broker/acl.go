package broker

import (
	"strings"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/config"
)

// openAuthorizer builds the ACL authorizer when ACLs are enforced (authorizerEnabled),
// with the ACLs in the metadata; followMetadata keeps them current. Without it every
// request is allowed and the ACL APIs answer SECURITY_DISABLED.
func (b *Broker) openAuthorizer() {
	if !authorizerEnabled(b.conf) {
		return
	}
	var supers []string
	for p := range strings.SplitSeq(b.conf.String("super.users"), ";") {
		if p = strings.TrimSpace(p); p != "" {
			supers = append(supers, p)
		}
	}
	allowIfNoACL := b.conf.Bool("allow.everyone.if.no.acl.found")
	b.authorizer = acl.New(acl.Config{SuperUsers: supers, AllowEveryoneIfNoACLFound: allowIfNoACL})
	api.ApplyACLs(b.authorizer, b.meta.Image())
	b.logger.Info("ACLs enforced", "super_users", supers, "acls", len(b.meta.Image().ACLs()))
	// Enforcement is broker-wide, as in Kafka once an authorizer is configured, so adding
	// a SASL or SSL listener to a broker that served PLAINTEXT clients starts denying
	// those clients. That is easy to miss, so say it at start.
	if plain := plaintextListeners(b.conf); len(plain) > 0 && !allowIfNoACL && !b.authorizer.IsSuperUser(api.AnonymousUser) {
		b.logger.Warn("ACLs are enforced on PLAINTEXT listeners too: their clients are "+acl.UserPrefix+api.AnonymousUser+
			" and are denied whatever no ACL for it (or User:*) allows; add such ACLs or set allow.everyone.if.no.acl.found=true",
			"listeners", plain)
	}
}

// plaintextListeners names the listeners whose clients do not authenticate.
func plaintextListeners(conf *config.Broker) []string {
	var names []string
	for _, l := range conf.Listeners() {
		if p, ok := conf.SecurityProtocol(l.Name); ok && p == "PLAINTEXT" {
			names = append(names, l.Name)
		}
	}
	return names
}

// authorizerEnabled is the rule in DESIGN.md: ACLs are enforced whenever a listener
// authenticates clients (SSL, SASL_PLAINTEXT or SASL_SSL), so a PLAINTEXT-only broker
// serves everyone as before; authorizer.class.name set to Kafka's authorizer turns them
// on regardless (config validation refuses any other class).
func authorizerEnabled(conf *config.Broker) bool {
	// The config table accepts Kafka's StandardAuthorizer and the ZooKeeper-era
	// AclAuthorizer (so old properties files carry over); both mean Nagare's authorizer.
	if conf.String("authorizer.class.name") != "" {
		return true
	}
	for _, l := range conf.Listeners() {
		if p, ok := conf.SecurityProtocol(l.Name); ok && p != "PLAINTEXT" {
			return true
		}
	}
	return false
}

// Authorizer is the broker's ACL authorizer, nil when ACLs are not enforced.
func (b *Broker) Authorizer() *acl.Authorizer { return b.authorizer }
