// Package quota holds clients to Kafka's client quotas: which quota applies to a request
// (entities and precedence), how much of it the client has used (sampled windows) and how
// long the client must be throttled when over it (Kafka's throttle-time formula).
//
// Entities are Kafka's: a (user, client-id) pair, a user, or a client-id, each part either
// a name or <default>. For every quota type independently, a request from user U with
// client-id C takes the first quota set at these levels (Kafka's order, KIP-55):
//
//  1. /users/U/clients/C            5. /users/<default>/clients/<default>
//  2. /users/U/clients/<default>    6. /users/<default>
//  3. /users/U                      7. /clients/C
//  4. /users/<default>/clients/C    8. /clients/<default>
//
// and then the broker's static default (Nagare's nagare.quota.default.* configs), which
// applies as a /clients/<default> quota would. The level that matched also decides who
// shares the usage: a quota at /users/U is shared by all of U's client-ids, one at
// /clients/<default> is held by each client-id separately, as in Kafka's default quota
// callback.
//
// Usage is a Kafka Rate over quota.window.num samples of quota.window.size.seconds each
// (rate.go). A request is always served; when the rate it brings is over the bound the
// client is throttled for (rate - bound) / bound × window, the time it must stay idle for
// the rate to fall back to the bound (Kafka's QuotaUtils.throttleTime).
//
// Concurrency: Manager is safe for concurrent use. Lookups take a read lock on the resolved
// client table; each usage sensor has its own mutex, held for a few arithmetic operations.
// SetQuotas and SetDefaults replace the quota table and invalidate resolutions; sensors and
// their samples survive the change, so a new bound applies to usage already measured.
package quota
