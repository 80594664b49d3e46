package cli

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"meridian/api"
)

// trafficString writes targets compactly: "rev=PCT" or "LATEST=PCT", "@tag" when
// tagged, separated by spaces.
func trafficString(targets []api.TrafficTarget) string {
	parts := make([]string, len(targets))
	for i, t := range targets {
		key := t.RevisionName
		if t.LatestRevision != nil && *t.LatestRevision {
			key = latestKey + key
		}
		parts[i] = fmt.Sprintf("%s=%d", key, t.Percent)
		if t.Tag != "" {
			parts[i] += "@" + t.Tag
		}
	}
	return strings.Join(parts, " ")
}

// parseTraffic is the inverse of trafficString, for writing test cases.
func parseTraffic(t *testing.T, s string) []api.TrafficTarget {
	t.Helper()
	var out []api.TrafficTarget
	for _, f := range strings.Fields(s) {
		key, rest, _ := strings.Cut(f, "=")
		pct, tag, _ := strings.Cut(rest, "@")
		var p int64
		if _, err := fmt.Sscan(pct, &p); err != nil {
			t.Fatalf("bad traffic %q", f)
		}
		target := api.TrafficTarget{Percent: p, Tag: tag}
		if key == latestKey {
			target.LatestRevision = boolPtr(true)
		} else {
			target.RevisionName = key
		}
		out = append(out, target)
	}
	return out
}

func TestParseTrafficPercents(t *testing.T) {
	for _, tc := range []struct {
		in   string
		tags bool
		want string // "key=pct ..." or "error: substring"
	}{
		{"app-00001-abc=90,LATEST=10", false, "app-00001-abc=90 LATEST=10"},
		{" a = 0 ", false, "a=0"},
		{"", false, ""},
		{"^:^a=40:b=60", false, "a=40 b=60"},
		{"a=101", false, "error: from 0 to 100"},
		{"a=-1", false, "error: from 0 to 100"},
		{"a=1.5", false, "error: from 0 to 100"},
		{"a=", false, "error: from 0 to 100"},
		{"a", false, "error: Bad syntax"},
		{"=5", false, "error: Bad syntax"},
		{"Rev=5", false, "error: Invalid revision [Rev]"},
		{"latest=5", false, "latest=5"}, // a revision may be called latest; LATEST is the keyword
		{"a=1,a=2", false, "error: [a] is given more than once"},
		{"green=10,blue=0", true, "green=10 blue=0"},
		{"LATEST=10", true, "error: Invalid tag [LATEST]"},
		{"-x=10", true, "error: Invalid tag"},
	} {
		got, err := parseTrafficPercents(tc.in, tc.tags)
		var s string
		if err != nil {
			s = "error: " + err.Error()
		} else {
			parts := make([]string, len(got))
			for i, p := range got {
				parts[i] = fmt.Sprintf("%s=%d", p.key, p.percent)
			}
			s = strings.Join(parts, " ")
		}
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if err == nil || !strings.Contains(s, want) {
				t.Errorf("parseTrafficPercents(%q, %v) = %q, want an error containing %q", tc.in, tc.tags, s, want)
			}
		} else if s != tc.want {
			t.Errorf("parseTrafficPercents(%q, %v) = %q, want %q", tc.in, tc.tags, s, tc.want)
		}
	}
}

func TestParseTagRevisions(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"green=app-00002-xyz,blue=LATEST", "green=app-00002-xyz blue=LATEST"},
		{"", ""},
		{"green", "error: Bad syntax"},
		{"green=", "error: Invalid revision []"},
		{"Green=a", "error: Invalid tag [Green]"},
		{"green=A", "error: Invalid revision [A]"},
		{"g=a,g=b", "error: Tag [g] is given more than once"},
	} {
		got, err := parseTagRevisions(tc.in)
		var s string
		if err != nil {
			s = "error: " + err.Error()
		} else {
			parts := make([]string, len(got))
			for i, p := range got {
				parts[i] = p.tag + "=" + p.revision
			}
			s = strings.Join(parts, " ")
		}
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if err == nil || !strings.Contains(s, want) {
				t.Errorf("parseTagRevisions(%q) = %q, want an error containing %q", tc.in, s, want)
			}
		} else if s != tc.want {
			t.Errorf("parseTagRevisions(%q) = %q, want %q", tc.in, s, tc.want)
		}
	}
}

func TestSpreadPercent(t *testing.T) {
	for _, tc := range []struct {
		total   int64
		weights []int64
		want    []int64
	}{
		{10, []int64{50, 50}, []int64{5, 5}},
		{10, []int64{1, 1, 1}, []int64{4, 3, 3}},
		{50, []int64{33, 33, 34}, []int64{17, 16, 17}},
		{1, []int64{50, 50}, []int64{1, 0}},
		{0, []int64{70, 30}, []int64{0, 0}},
		{100, []int64{0, 25, 0, 75}, []int64{0, 25, 0, 75}},
		{7, []int64{90, 10}, []int64{6, 1}},
		{5, []int64{0, 0}, nil},
		{5, nil, nil},
	} {
		got := spreadPercent(tc.total, tc.weights)
		if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("spreadPercent(%d, %v) = %v, want %v", tc.total, tc.weights, got, tc.want)
		}
	}
}

func TestTrafficEdits(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec string // current spec.traffic, see trafficString
		edit trafficEdit
		want string // the new spec.traffic, or "error: substring"
	}{
		{"empty traffic is latest", "", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r1", 100}}}, "r1=100"},
		{"remainder spread proportionally", "r1=90 r2=10", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r3", 50}}}, "r1=45 r2=5 r3=50"},
		{"remainder with rounding", "r1=33 r2=33 r3=34", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r4", 50}}}, "r1=17 r2=16 r3=17 r4=50"},
		{"remainder to latest", "", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r1", 10}}}, "LATEST=90 r1=10"},
		{"LATEST keyword", "r1=100", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"LATEST", 20}}}, "r1=80 LATEST=20"},
		{"named sum 100 drops others", "r1=50 r2=50", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r1", 100}}}, "r1=100"},
		{"tag kept on revision without traffic", "r1=50@a r2=50", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r1", 0}, {"r2", 100}}}, "r1=0@a r2=100"},
		{"named revision takes others' share", "r1=60 r2=40", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r2", 70}}}, "r1=30 r2=70"},
		{"nothing takes the rest", "r1=100", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r1", 50}}}, "error: no other revision serves traffic to take the remaining 50%"},
		{"over 100", "r1=100", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r2", 60}, {"r3", 50}}}, "error: Over 100% of traffic is specified"},
		{"to latest", "r1=50@a r2=50", trafficEdit{toLatest: true}, "r1=0@a LATEST=100"},
		{"to tags", "r1=90 r2=10@green", trafficEdit{toTagsSet: true, toTags: []trafficPercent{{"green", 50}}}, "r1=50 r2=50@green"},
		{"to tags of latest", "LATEST=100@cur r1=0@old", trafficEdit{toTagsSet: true, toTags: []trafficPercent{{"old", 100}}}, "LATEST=0@cur r1=100@old"},
		{"to unknown tag", "r1=100", trafficEdit{toTagsSet: true, toTags: []trafficPercent{{"blue", 50}}}, "error: There is no revision tagged with [blue] in the traffic allocation for [svc]."},
		{"two tags of one revision", "r1=50@a r1=0@b r2=50", trafficEdit{toTagsSet: true, toTags: []trafficPercent{{"a", 10}, {"b", 20}}}, "error: are on the same revision [r1]"},
		{"set tags replaces all", "r1=100@a r2=0@b", trafficEdit{setTagsSet: true, setTags: []tagRevision{{"c", "r2"}}}, "r1=100 r2=0@c"},
		{"update tags moves a tag", "r1=100@a", trafficEdit{updateTagsSet: true, updateTags: []tagRevision{{"a", "r2"}}}, "r1=100 r2=0@a"},
		{"update tags adds a second tag", "r1=100@a", trafficEdit{updateTagsSet: true, updateTags: []tagRevision{{"b", "r1"}}}, "r1=100@a r1=0@b"},
		{"update tags to LATEST", "r1=100", trafficEdit{updateTagsSet: true, updateTags: []tagRevision{{"cur", "LATEST"}}}, "r1=100 LATEST=0@cur"},
		{"remove tags", "r1=50@a r2=50@b r3=0@c", trafficEdit{removeTagsSet: true, removeTags: []string{"b", "c", "nope"}}, "r1=50@a r2=50"},
		{"clear tags", "r1=50@a r2=50@b r3=0@c", trafficEdit{clearTags: true}, "r1=50 r2=50"},
		{"clear then update", "r1=100@a", trafficEdit{clearTags: true, updateTagsSet: true, updateTags: []tagRevision{{"b", "r1"}}}, "r1=100@b"},
		{"percents then tags", "r1=100@a", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r2", 100}}, updateTagsSet: true, updateTags: []tagRevision{{"a", "r2"}}}, "r2=100@a"},
		{"entries of one revision merge", "r1=50 r2=50 r1=0@t", trafficEdit{toRevisionsSet: true, toRevisions: []trafficPercent{{"r2", 20}}}, "r1=80@t r2=20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTrafficModel(parseTraffic(t, tc.spec))
			err := tc.edit.apply(m, "svc")
			if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			targets := m.targets()
			if got := trafficString(targets); got != tc.want {
				t.Errorf("traffic = %q, want %q", got, tc.want)
			}
			total := int64(0)
			for _, tt := range targets {
				total += tt.Percent
			}
			if total != 100 {
				t.Errorf("traffic adds up to %d", total)
			}
		})
	}
}

func TestTrafficEditCheck(t *testing.T) {
	for _, tc := range []struct {
		edit trafficEdit
		want string
	}{
		{trafficEdit{toLatest: true}, ""},
		{trafficEdit{toLatest: true, updateTagsSet: true}, ""},
		{trafficEdit{updateTagsSet: true, removeTagsSet: true}, ""},
		{trafficEdit{}, "No traffic change requested."},
		{trafficEdit{toLatest: true, toRevisionsSet: true}, "At most one of --to-latest | --to-revisions | --to-tags"},
		{trafficEdit{toTagsSet: true, toRevisionsSet: true}, "At most one of --to-latest | --to-revisions | --to-tags"},
		{trafficEdit{setTagsSet: true, clearTags: true}, "At most one of --clear-tags | --remove-tags | --set-tags"},
		{trafficEdit{removeTagsSet: true, clearTags: true}, "At most one of --clear-tags | --remove-tags | --set-tags"},
		{trafficEdit{setTagsSet: true, updateTagsSet: true}, "At most one of --set-tags | --update-tags"},
	} {
		err := tc.edit.check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.edit, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: err = %v, want %q", tc.edit, err, tc.want)
		}
	}
}

func TestPinLatest(t *testing.T) {
	for _, tc := range []struct {
		spec, ready, want string
	}{
		{"", "r1", "r1=100"},
		{"LATEST=100@cur", "r1", "r1=100@cur"},
		{"r1=40 LATEST=60", "r1", "r1=100"},
		{"r1=40 r2=60", "", "r1=40 r2=60"},
		{"", "", "error: no ready revision"},
	} {
		m := newTrafficModel(parseTraffic(t, tc.spec))
		err := m.pinLatest(tc.ready)
		got := trafficString(m.targets())
		if err != nil {
			got = "error: " + err.Error()
		}
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr && strings.Contains(got, want) {
			continue
		}
		if got != tc.want {
			t.Errorf("pinLatest(%q, %q) = %q, want %q", tc.spec, tc.ready, got, tc.want)
		}
	}
}

func TestWriteTraffic(t *testing.T) {
	svc := &api.KnativeService{
		Spec: api.ServiceSpec{Traffic: parseTraffic(t, "my-app-00002-xyz=10 my-app-00001-abc=90 my-app-00002-xyz=0@green")},
		Status: &api.ServiceStatus{URL: "http://my-app.test", LatestReadyRevisionName: "my-app-00002-xyz",
			Traffic: []api.TrafficTarget{{RevisionName: "my-app-00002-xyz", Tag: "green", URL: "http://green---my-app.test"}}},
	}
	var b bytes.Buffer
	writeTraffic(&b, svc.Status.URL, resolvedTraffic(svc))
	want := "URL: http://my-app.test\nTraffic:\n  90% my-app-00001-abc\n  10% my-app-00002-xyz\n        green: http://green---my-app.test\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	svc.Spec.Traffic = parseTraffic(t, "LATEST=100 my-app-00001-abc=0@old")
	b.Reset()
	writeTraffic(&b, "", resolvedTraffic(svc))
	want = "Traffic:\n  0%   my-app-00001-abc\n        old\n  100% LATEST (currently my-app-00002-xyz)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
