package cli

import (
	"slices"
	"strings"
	"testing"

	"meridian/api"
)

// Fuzz tests of the parsers of `run deploy` and `run services update-traffic`, and of
// the traffic arithmetic: none may panic, and what they accept must be well formed.

func FuzzParseTrafficPercents(f *testing.F) {
	for _, s := range []string{"a=90,LATEST=10", "^:^a=1:b=2", "a=101", "LATEST=", "=", "a=1,a=2", "green=-0"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, tags bool) {
		items, err := parseTrafficPercents(s, tags)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, it := range items {
			if it.percent < 0 || it.percent > 100 || seen[it.key] {
				t.Fatalf("parseTrafficPercents(%q, %v) gave %+v", s, tags, items)
			}
			if !validKnativeName(it.key) && (tags || it.key != latestKey) {
				t.Fatalf("parseTrafficPercents(%q, %v) gave key %q", s, tags, it.key)
			}
			seen[it.key] = true
		}
	})
}

func FuzzParseTagRevisions(f *testing.F) {
	for _, s := range []string{"green=r1,blue=LATEST", "g=", "g=a,g=b", "^;^a=b;c=d", "A=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := parseTagRevisions(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, it := range items {
			if !validKnativeName(it.tag) || seen[it.tag] || (it.revision != latestKey && !validKnativeName(it.revision)) {
				t.Fatalf("parseTagRevisions(%q) gave %+v", s, items)
			}
			seen[it.tag] = true
		}
	})
}

func FuzzParseEnvVars(f *testing.F) {
	for _, s := range []string{"A=1,B=2", "A=1,A=2", "PORT=1", "^|^A=1,2|B=3", "=x", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vars, err := parseEnvVars(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, v := range vars {
			if v.Name == "" || seen[v.Name] || slices.Contains(reservedEnvNames, v.Name) || strings.Contains(v.Name, "=") {
				t.Fatalf("parseEnvVars(%q) gave %+v", s, vars)
			}
			seen[v.Name] = true
		}
	})
}

func FuzzParseDeployValues(f *testing.F) {
	for _, s := range []string{"80", "default", "0", "-1", "5m", "1h", "3601", "512Mi", "500m", "1.5", "65536", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := parseConcurrency(s); err == nil && !c.isDefault && (c.n < 1 || c.n > 1000) {
			t.Fatalf("parseConcurrency(%q) = %+v", s, c)
		}
		if n, err := parseInstances(s); err == nil && !n.isDefault && (n.n < 0 || n.n > maxInstancesLimit) {
			t.Fatalf("parseInstances(%q) = %+v", s, n)
		}
		if n, err := parseTimeout(s); err == nil && (n < 1 || n > 3600) {
			t.Fatalf("parseTimeout(%q) = %d", s, n)
		}
		if n, err := parsePort(s); err == nil && (n < 1 || n > 65535) {
			t.Fatalf("parsePort(%q) = %d", s, n)
		}
		if m, err := parseMemory(s); err == nil && m == "" {
			t.Fatalf("parseMemory(%q) accepted nothing", s)
		}
		if c, err := parseCPU(s); err == nil && c == "" {
			t.Fatalf("parseCPU(%q) accepted nothing", s)
		}
	})
}

// FuzzTrafficEdit edits traffic made of the fuzzer's bytes with --to-revisions made of
// its other bytes: the result adds up to 100, or the edit is refused.
func FuzzTrafficEdit(f *testing.F) {
	f.Add([]byte{60, 40}, []byte{0, 30}, false)
	f.Add([]byte{100}, []byte{2, 50}, true)
	f.Add([]byte{}, []byte{1, 100}, false)
	f.Fuzz(func(t *testing.T, current, named []byte, latest bool) {
		// The current traffic: revisions r0, r1, … with percents that add up to 100.
		var spec []api.TrafficTarget
		left := int64(100)
		for i, b := range current {
			if i > 8 || left == 0 {
				break
			}
			p := min(int64(b)%101, left)
			left -= p
			spec = append(spec, api.TrafficTarget{RevisionName: string(rune('a'+i)) + "rev", Percent: p, Tag: string(rune('a'+i)) + "tag"})
		}
		if len(spec) > 0 {
			spec[0].Percent += left
		}
		if latest && len(spec) > 0 {
			spec[len(spec)-1].RevisionName, spec[len(spec)-1].LatestRevision = "", boolPtr(true)
		}
		var percents []trafficPercent
		for i := 0; i+1 < len(named) && i < 16; i += 2 {
			key := string(rune('a'+named[i]%12)) + "rev"
			if named[i]%13 == 12 {
				key = latestKey
			}
			if slices.ContainsFunc(percents, func(p trafficPercent) bool { return p.key == key }) {
				continue
			}
			percents = append(percents, trafficPercent{key: key, percent: int64(named[i+1]) % 101})
		}
		m := newTrafficModel(spec)
		edit := &trafficEdit{toRevisionsSet: true, toRevisions: percents}
		if err := edit.apply(m, "svc"); err != nil {
			return
		}
		total := int64(0)
		for _, tt := range m.targets() {
			if tt.Percent < 0 || (tt.Percent == 0 && tt.Tag == "") {
				t.Fatalf("target %+v in %+v", tt, m.targets())
			}
			total += tt.Percent
		}
		if total != 100 {
			t.Fatalf("traffic %v edited with %v adds up to %d: %+v", spec, percents, total, m.targets())
		}
	})
}

func FuzzSpreadPercent(f *testing.F) {
	f.Add(uint8(10), []byte{1, 1, 1})
	f.Add(uint8(0), []byte{})
	f.Add(uint8(100), []byte{0, 0, 7})
	f.Fuzz(func(t *testing.T, total uint8, raw []byte) {
		weights := make([]int64, len(raw))
		sum := int64(0)
		for i, b := range raw {
			weights[i] = int64(b) % 101
			sum += weights[i]
		}
		tot := int64(total) % 101
		out := spreadPercent(tot, weights)
		if sum == 0 {
			if out != nil {
				t.Fatalf("spreadPercent(%d, %v) = %v, want nil", tot, weights, out)
			}
			return
		}
		given := int64(0)
		for i, n := range out {
			exact := float64(tot) * float64(weights[i]) / float64(sum)
			if float64(n) < exact-1 || float64(n) > exact+1 || (weights[i] == 0 && n != 0) {
				t.Fatalf("spreadPercent(%d, %v) = %v", tot, weights, out)
			}
			given += n
		}
		if given != tot {
			t.Fatalf("spreadPercent(%d, %v) = %v adds up to %d", tot, weights, out, given)
		}
	})
}
