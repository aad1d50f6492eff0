// Package acl is Kafka's authorization model: ACL bindings (a resource pattern and an
// access control entry), the filters DescribeAcls and DeleteAcls use, and the Authorizer
// that decides each request's operations the way Kafka's StandardAuthorizer does.
//
// Types use Kafka's wire codes (ResourceType, PatternType, Operation, Permission), so
// internal/api converts nothing. A principal is written as Kafka writes it, "User:name";
// "User:*" matches every user. A host is an IP address or "*"; both an ACL's host and the
// client's are compared in NormalizeHost's form (so Java's "0:0:0:0:0:0:0:1" is "::1").
//
// Decision rules (StandardAuthorizerData): a super user is allowed everything; otherwise
// the ACLs whose pattern matches the resource are collected (LITERAL equal to the name,
// LITERAL "*", PREFIXED a prefix of the name). Among those that match the principal
// (itself or User:*), the host (itself or *) and the operation, a DENY wins over an ALLOW;
// an ALLOW for READ, WRITE, DELETE or ALTER also allows DESCRIBE, and ALTER_CONFIGS allows
// DESCRIBE_CONFIGS (ALLOW only: a DENY denies just its own operation); ALL matches every
// operation. With no matching entry the answer is DENY when the resource has any ACL at
// all, and allow.everyone.if.no.acl.found when it has none.
//
// Concurrency: an Authorizer is safe for concurrent use. Its ACLs are an immutable index
// swapped atomically by SetBindings (on every metadata change that touches ACLs); each
// index carries its own decision cache, so a change invalidates every cached decision by
// replacing it, and a cached check is a sharded map lookup under a read lock, with no
// allocation (BenchmarkAuthorize). The names in the cache come from clients, so it is
// bounded in entries and bytes, and a key longer than any valid Kafka name is decided
// without being cached.
package acl
