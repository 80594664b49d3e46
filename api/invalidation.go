package api

// Cache invalidation between the API and the edges. The API writes each accepted rule
// (a CacheInvalidationRule) under InvalidationsPrefix + "{url map path}/{operation}";
// the revision of that write orders it. Every edge applies rules as it sees them and
// publishes, under its membership lease, the newest revision it has applied (a decimal
// number) at InvalidationAcksPrefix + "{edge id}". An invalidateCache Operation is DONE
// once every edge registered under EdgeMembersPrefix has acknowledged its rule.
const (
	InvalidationsPrefix    = "invalidations/"
	InvalidationAcksPrefix = "invalidation-acks/"
	EdgeMembersPrefix      = "members/edges/"
)
