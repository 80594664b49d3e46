package api

import "time"

// Cache invalidation between the API and the edges. The API writes each accepted rule
// (a CacheInvalidationRule) under InvalidationsPrefix + "{url map path}/{operation}";
// the revision of that write orders it. Every edge applies rules as it sees them and
// publishes, under its membership lease, the newest revision it has applied (a decimal
// number) at InvalidationAcksPrefix + "{edge id}". An invalidateCache Operation is DONE
// once every edge registered under EdgeMembersPrefix has acknowledged its rule.
// OperationRetention is how long an operation, and an invalidation rule with it, is
// kept. An edge whose disk cache was last brought up to date longer ago than this may
// have missed rules, and drops what it kept.
const OperationRetention = 7 * 24 * time.Hour

const (
	InvalidationsPrefix    = "invalidations/"
	InvalidationAcksPrefix = "invalidation-acks/"
	EdgeMembersPrefix      = "members/edges/"
)
