package armor

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"meridian/api"
)

// Rate limit outcomes, as request logs spell them.
const (
	RateConform    = "RATE_LIMIT_THRESHOLD_CONFORM"
	RateExceed     = "RATE_LIMIT_THRESHOLD_EXCEED"
	BanExceed      = "BAN_THRESHOLD_EXCEED"
	maxKeysPerRule = 100_000
	// evictionSample is how many keys a full rule looks at to forget the one seen
	// longest ago.
	evictionSample = 16
	maxKeyBytes    = 128
)

// rateRule is a throttle's or rate-based ban's configuration.
type rateRule struct {
	id             string // the rule's counters in a Limits: policy, priority, threshold
	count          int64
	interval       time.Duration
	exceedStatus   int
	exceedLocation string
	key            func(*Request) string
	ban            bool
	banCount       int64 // 0: a ban follows exceeding the rate limit itself
	banInterval    time.Duration
	banDuration    time.Duration
}

func compileRate(policy string, ar *api.SecurityPolicyRule) (*rateRule, error) {
	o := ar.RateLimitOptions
	if o.RateLimitThreshold == nil {
		return nil, fmt.Errorf("rateLimitOptions.rateLimitThreshold is missing")
	}
	t := o.RateLimitThreshold
	rr := &rateRule{count: int64(t.Count), interval: time.Duration(t.IntervalSec) * time.Second}
	if rr.count <= 0 || rr.interval <= 0 {
		return nil, fmt.Errorf("rate limit threshold %d per %ds", t.Count, t.IntervalSec)
	}
	if status, ok := api.DenyStatus(o.ExceedAction); ok {
		rr.exceedStatus = status
	} else if o.ExceedRedirectOptions != nil {
		rr.exceedLocation = o.ExceedRedirectOptions.Target
	} else {
		rr.exceedStatus = 429
	}
	switch o.EnforceOnKey {
	case api.EnforceOnKeyIP:
		rr.key = func(r *Request) string { return r.IP.Unmap().String() }
	case api.EnforceOnKeyHTTPHeader:
		name := o.EnforceOnKeyName
		rr.key = func(r *Request) string {
			// Without the header, every such request shares one key (ALL's); the
			// value counts up to 128 bytes, as Cloud Armor's does.
			v := r.Header.Get(name)
			return v[:min(len(v), maxKeyBytes)]
		}
	case api.EnforceOnKeyXFFIP:
		rr.key = xffIP
	case api.EnforceOnKeyUserIP:
		// Without advancedOptionsConfig.userIpRequestHeaders, the user's IP is the
		// client's, as Cloud Armor falls back to it.
		rr.key = func(r *Request) string { return r.IP.Unmap().String() }
	case api.EnforceOnKeyHTTPCookie:
		name := o.EnforceOnKeyName
		rr.key = func(r *Request) string {
			for _, line := range r.Header["Cookie"] {
				if c, err := http.ParseCookie(line); err == nil {
					for _, ck := range c {
						if ck.Name == name {
							return ck.Value[:min(len(ck.Value), maxKeyBytes)]
						}
					}
				}
			}
			return "" // without the cookie: ALL's key
		}
	case api.EnforceOnKeyHTTPPath:
		rr.key = func(r *Request) string { return r.Path[:min(len(r.Path), maxKeyBytes)] }
	case api.EnforceOnKeySNI:
		rr.key = func(r *Request) string { return r.SNI[:min(len(r.SNI), maxKeyBytes)] } // "" (ALL's) over plain HTTP
	case api.EnforceOnKeyRegionCode:
		rr.key = func(r *Request) string {
			if r.RegionCode == "" && r.Locate != nil {
				r.RegionCode = r.Locate(r.IP)
			}
			return r.RegionCode
		}
	default:
		rr.key = func(*Request) string { return "" }
	}
	if ar.Action == api.ActionRateBasedBan {
		rr.ban = true
		rr.banDuration = time.Duration(o.BanDurationSec) * time.Second
		if b := o.BanThreshold; b != nil {
			rr.banCount, rr.banInterval = int64(b.Count), time.Duration(b.IntervalSec)*time.Second
		}
	}
	rr.id = fmt.Sprintf("%s|%d|%s|%d/%v|%v|%d/%v|%v|%s:%s", policy, ar.Priority, ar.Action, rr.count, rr.interval,
		rr.ban, rr.banCount, rr.banInterval, rr.banDuration, o.EnforceOnKey, o.EnforceOnKeyName)
	return rr, nil
}

// xffIP is the first address of X-Forwarded-For, the client as the first proxy saw
// it; without one that parses, the connection's peer.
func xffIP(r *Request) string {
	xff := r.Header.Get("X-Forwarded-For")
	first, _, _ := strings.Cut(xff, ",")
	if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
		return a.Unmap().String()
	}
	return r.IP.Unmap().String()
}

// Limits holds rate limits' counters, per rule, backend service and key. One edge
// keeps one, across configuration changes: a rule whose threshold, key or ban settings
// are unchanged keeps counting. Counts are per edge, as each Cloud Armor enforcement
// point counts its own, and per backend service, as Cloud Armor's thresholds apply to
// each backend service the policy protects.
type Limits struct {
	mu    sync.Mutex
	rules map[string]*ruleCounters
}

// NewLimits returns empty counters.
func NewLimits() *Limits { return &Limits{rules: map[string]*ruleCounters{}} }

type ruleCounters struct {
	rule      string // the rule's id, for Retain
	mu        sync.Mutex
	keys      map[string]*counter
	lastSweep time.Time
}

// counter is one key's sliding window: the requests counted in the current fixed
// window and the previous one, the previous weighted by how much of it the sliding
// window still covers. A ban's window counts every request the same way.
type counter struct {
	rate, ban   window
	bannedUntil time.Time
	seen        time.Time
}

type window struct {
	start     time.Time
	cur, prev int64
}

// estimate advances the window to now and returns the requests counted in the last
// interval.
func (w *window) estimate(now time.Time, interval time.Duration) float64 {
	if w.start.IsZero() {
		w.start = now.Truncate(interval)
	}
	switch elapsed := now.Sub(w.start); {
	case elapsed < 0 || elapsed >= 2*interval: // the clock stepped back, or a long pause
		w.start, w.cur, w.prev = now.Truncate(interval), 0, 0
	case elapsed >= interval:
		w.start, w.prev, w.cur = w.start.Add(interval), w.cur, 0
	}
	covered := 1 - float64(now.Sub(w.start))/float64(interval)
	return float64(w.prev)*covered + float64(w.cur)
}

// count counts one request of a key under a rate rule for a backend service (scope)
// and says how it stands.
func (l *Limits) count(rr *rateRule, scope, key string, now time.Time) string {
	rc := l.rule(rr.id, scope)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := rc.counter(key, now, rr)
	c.seen = now
	if rr.ban && now.Before(c.bannedUntil) {
		return BanExceed
	}
	if rr.ban && rr.banCount > 0 {
		// A ban's threshold counts every request, allowed or not.
		n := c.ban.estimate(now, rr.banInterval)
		c.ban.cur++
		if int64(n)+1 > rr.banCount {
			c.bannedUntil = now.Add(rr.banDuration)
			return BanExceed
		}
	}
	if int64(c.rate.estimate(now, rr.interval)) < rr.count {
		c.rate.cur++ // only requests let through count toward the rate
		return RateConform
	}
	if rr.ban && rr.banCount == 0 {
		c.bannedUntil = now.Add(rr.banDuration)
	}
	return RateExceed
}

func (l *Limits) rule(id, scope string) *ruleCounters {
	l.mu.Lock()
	defer l.mu.Unlock()
	rc := l.rules[id+"\x00"+scope]
	if rc == nil {
		rc = &ruleCounters{rule: id, keys: map[string]*counter{}}
		l.rules[id+"\x00"+scope] = rc
	}
	return rc
}

// counter finds a key's counter. Keys are bounded per rule: past the bound, keys idle
// for two intervals (and not banned) are forgotten, and if that frees nothing the key
// seen longest ago among a sample is, preferring one not banned. A client that
// invents keys (a header's value) then churns through its own keys; clients that keep
// sending keep their counts.
func (rc *ruleCounters) counter(key string, now time.Time, rr *rateRule) *counter {
	if c := rc.keys[key]; c != nil {
		return c
	}
	if len(rc.keys) >= maxKeysPerRule {
		idle := 2 * max(rr.interval, rr.banInterval)
		if now.Sub(rc.lastSweep) >= rr.interval {
			rc.lastSweep = now
			for k, c := range rc.keys {
				if now.Sub(c.seen) > idle && !now.Before(c.bannedUntil) {
					delete(rc.keys, k)
				}
			}
		}
		if len(rc.keys) >= maxKeysPerRule {
			rc.evictOne(now)
		}
	}
	c := &counter{}
	rc.keys[key] = c
	return c
}

// evictOne forgets the key seen longest ago of a sample of the rule's keys (Go's map
// iteration starts at a random place), one not banned if the sample has one.
func (rc *ruleCounters) evictOne(now time.Time) {
	var victim string
	var oldest time.Time
	victimBanned, n := true, 0
	for k, c := range rc.keys {
		banned := now.Before(c.bannedUntil)
		if victim == "" || victimBanned && !banned || banned == victimBanned && c.seen.Before(oldest) {
			victim, oldest, victimBanned = k, c.seen, banned
		}
		if n++; n == evictionSample {
			break
		}
	}
	delete(rc.keys, victim)
}

// Retain forgets the counters of rules not among the policies given (after a
// configuration change removed or changed them).
func (l *Limits) Retain(policies []*Policy) {
	keep := map[string]bool{}
	for _, p := range policies {
		for _, r := range p.rules {
			if r.rate != nil {
				keep[r.rate.id] = true
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, rc := range l.rules {
		if !keep[rc.rule] {
			delete(l.rules, k)
		}
	}
}
