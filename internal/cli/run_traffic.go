package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

// Traffic of a Cloud Run service: its spec.traffic is a list of targets, each naming a
// revision (or latestRevision: true), a percent and at most one tag. The commands edit
// it through trafficModel, one allocation per revision, as gcloud's TrafficTargets do.

// latestKey names the latestRevision target in traffic flags and in trafficModel, as
// gcloud's LATEST does. Revision names are lowercase, so none can be called LATEST.
const latestKey = "LATEST"

// knativeNamePattern is a revision or tag name: RFC 1035's label, as the API checks.
var knativeNamePattern = regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`)

func validKnativeName(s string) bool { return knativeNamePattern.MatchString(s) }

// trafficAlloc is the traffic of one revision (or of LATEST): its percent and its tags.
type trafficAlloc struct {
	key     string // a revision name, or latestKey
	percent int64
	tags    []string
}

// trafficModel is a service's traffic, one allocation per revision, in the order the
// revisions first appear in spec.traffic.
type trafficModel struct {
	allocs []*trafficAlloc
}

// newTrafficModel reads spec.traffic; an empty list means 100% to the latest revision.
// Targets that name the same revision are merged.
func newTrafficModel(spec []api.TrafficTarget) *trafficModel {
	if len(spec) == 0 {
		spec = []api.TrafficTarget{{LatestRevision: boolPtr(true), Percent: 100}}
	}
	m := &trafficModel{}
	for _, t := range spec {
		key := t.RevisionName
		if t.LatestRevision != nil && *t.LatestRevision {
			key = latestKey
		}
		if key == "" {
			continue
		}
		a := m.alloc(key)
		a.percent += t.Percent
		if t.Tag != "" && !slices.Contains(a.tags, t.Tag) {
			a.tags = append(a.tags, t.Tag)
		}
	}
	return m
}

func boolPtr(b bool) *bool { return &b }

// alloc returns the allocation of key, adding an empty one at the end if there is none.
func (m *trafficModel) alloc(key string) *trafficAlloc {
	for _, a := range m.allocs {
		if a.key == key {
			return a
		}
	}
	a := &trafficAlloc{key: key}
	m.allocs = append(m.allocs, a)
	return a
}

// targets writes the model as spec.traffic: per revision, one target with its percent
// and first tag, and one percent-0 target per further tag. A revision with neither
// traffic nor tags is left out.
func (m *trafficModel) targets() []api.TrafficTarget {
	var out []api.TrafficTarget
	for _, a := range m.allocs {
		target := func(tag string, percent int64) api.TrafficTarget {
			t := api.TrafficTarget{Percent: percent, Tag: tag}
			if a.key == latestKey {
				t.LatestRevision = boolPtr(true)
			} else {
				t.RevisionName = a.key
			}
			return t
		}
		tags := a.tags
		if a.percent > 0 {
			first := ""
			if len(tags) > 0 {
				first, tags = tags[0], tags[1:]
			}
			out = append(out, target(first, a.percent))
		}
		for _, tag := range tags {
			out = append(out, target(tag, 0))
		}
	}
	return out
}

// keyOfTag returns the revision (or LATEST) a tag is on.
func (m *trafficModel) keyOfTag(tag string) (string, bool) {
	for _, a := range m.allocs {
		if slices.Contains(a.tags, tag) {
			return a.key, true
		}
	}
	return "", false
}

func (m *trafficModel) removeTag(tag string) {
	for _, a := range m.allocs {
		a.tags = slices.DeleteFunc(a.tags, func(t string) bool { return t == tag })
	}
}

func (m *trafficModel) clearTags() {
	for _, a := range m.allocs {
		a.tags = nil
	}
}

// setTag puts tag on the revision key (taking it off any other).
func (m *trafficModel) setTag(tag, key string) {
	m.removeTag(tag)
	a := m.alloc(key)
	a.tags = append(a.tags, tag)
}

// pinLatest moves what LATEST has (traffic and tags) to the revision that is the latest
// now, so that a new revision gets none of it.
func (m *trafficModel) pinLatest(revision string) error {
	i := slices.IndexFunc(m.allocs, func(a *trafficAlloc) bool { return a.key == latestKey })
	if i < 0 {
		return nil
	}
	if revision == "" {
		return errors.New("--no-traffic cannot keep the service's traffic where it is: the traffic goes to the latest revision and the service has no ready revision yet.")
	}
	latest := m.allocs[i]
	m.allocs = slices.Delete(m.allocs, i, i+1)
	a := m.alloc(revision)
	a.percent += latest.percent
	for _, tag := range latest.tags {
		if !slices.Contains(a.tags, tag) {
			a.tags = append(a.tags, tag)
		}
	}
	return nil
}

// trafficPercent is one KEY=PERCENT item of --to-revisions or --to-tags.
type trafficPercent struct {
	key     string
	percent int64
}

// setPercents gives the named revisions their percents. When they add up to less than
// 100, the rest is spread over the other revisions that have traffic, in proportion to
// what they have; revisions not named get nothing when they add up to 100.
func (m *trafficModel) setPercents(named []trafficPercent) error {
	sum := int64(0)
	given := map[string]bool{}
	for _, p := range named {
		sum += p.percent
		given[p.key] = true
	}
	if sum > 100 {
		return fmt.Errorf("Over 100%% of traffic is specified: the percentages given add up to %d%%.", sum)
	}
	var others []*trafficAlloc
	var weights []int64
	for _, a := range m.allocs {
		if !given[a.key] && a.percent > 0 {
			others = append(others, a)
			weights = append(weights, a.percent)
		}
	}
	rest := 100 - sum
	shares := spreadPercent(rest, weights)
	if shares == nil && rest > 0 {
		return fmt.Errorf("The percentages given add up to %d%% and no other revision serves traffic to take the remaining %d%%: give percentages that add up to 100.", sum, rest)
	}
	for i, a := range others {
		a.percent = 0
		if shares != nil {
			a.percent = shares[i]
		}
	}
	for _, p := range named {
		m.alloc(p.key).percent = p.percent
	}
	return nil
}

// spreadPercent splits total into integers proportional to weights that add up to
// exactly total (largest remainders first, earlier ones first on ties). It returns nil
// when the weights add up to 0 or less.
func spreadPercent(total int64, weights []int64) []int64 {
	sum := int64(0)
	for _, w := range weights {
		if w > 0 {
			sum += w
		}
	}
	if sum <= 0 || total < 0 {
		return nil
	}
	out := make([]int64, len(weights))
	rems := make([]int64, len(weights))
	given := int64(0)
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		// total and w are percents (at most 100 each in practice); the products fit.
		out[i], rems[i] = total*w/sum, total*w%sum
		given += out[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	for _, i := range order {
		if given >= total {
			break
		}
		if weights[i] > 0 {
			out[i]++
			given++
		}
	}
	return out
}

// tagRevision is one TAG=REVISION item of --set-tags or --update-tags.
type tagRevision struct {
	tag, revision string
}

// parseTrafficPercents parses --to-revisions ("rev-a=90,LATEST=10", keys revision names
// or LATEST) or, with tags set, --to-tags ("green=10", keys tags).
func parseTrafficPercents(s string, tags bool) ([]trafficPercent, error) {
	kvs, err := parseKeyValues(s)
	if err != nil {
		return nil, err
	}
	var out []trafficPercent
	for _, kv := range kvs {
		if tags {
			if !validKnativeName(kv.key) {
				return nil, fmt.Errorf("Invalid tag [%s]: a tag is lowercase letters, digits and hyphens, starts with a letter and has at most 63 characters.", kv.key)
			}
		} else if kv.key != latestKey && !validKnativeName(kv.key) {
			return nil, fmt.Errorf("Invalid revision [%s]: name a revision (lowercase letters, digits and hyphens) or LATEST.", kv.key)
		}
		p, err := strconv.ParseInt(kv.value, 10, 64)
		if err != nil || p < 0 || p > 100 {
			return nil, fmt.Errorf("Invalid percent [%s] for [%s]: traffic percentages must be integers from 0 to 100.", kv.value, kv.key)
		}
		if slices.ContainsFunc(out, func(t trafficPercent) bool { return t.key == kv.key }) {
			return nil, fmt.Errorf("[%s] is given more than once.", kv.key)
		}
		out = append(out, trafficPercent{key: kv.key, percent: p})
	}
	return out, nil
}

// parseTagRevisions parses --set-tags and --update-tags: "green=rev-b,blue=LATEST".
func parseTagRevisions(s string) ([]tagRevision, error) {
	kvs, err := parseKeyValues(s)
	if err != nil {
		return nil, err
	}
	var out []tagRevision
	for _, kv := range kvs {
		if !validKnativeName(kv.key) {
			return nil, fmt.Errorf("Invalid tag [%s]: a tag is lowercase letters, digits and hyphens, starts with a letter and has at most 63 characters.", kv.key)
		}
		if kv.value != latestKey && !validKnativeName(kv.value) {
			return nil, fmt.Errorf("Invalid revision [%s] for tag [%s]: name a revision (lowercase letters, digits and hyphens) or LATEST.", kv.value, kv.key)
		}
		if slices.ContainsFunc(out, func(t tagRevision) bool { return t.tag == kv.key }) {
			return nil, fmt.Errorf("Tag [%s] is given more than once.", kv.key)
		}
		out = append(out, tagRevision{tag: kv.key, revision: kv.value})
	}
	return out, nil
}

// trafficEdit is what `run services update-traffic` was asked to change.
type trafficEdit struct {
	toRevisions, toTags []trafficPercent
	toRevisionsSet      bool
	toTagsSet           bool
	toLatest            bool
	setTags, updateTags []tagRevision
	setTagsSet          bool
	updateTagsSet       bool
	removeTags          []string
	removeTagsSet       bool
	clearTags           bool
}

// check refuses flags that cannot go together, and an edit that changes nothing.
func (e *trafficEdit) check() error {
	if n := countTrue(e.toLatest, e.toRevisionsSet, e.toTagsSet); n > 1 {
		return errors.New("argument --to-latest: At most one of --to-latest | --to-revisions | --to-tags may be specified.")
	}
	if n := countTrue(e.setTagsSet, e.removeTagsSet, e.clearTags); n > 1 {
		return errors.New("argument --set-tags: At most one of --clear-tags | --remove-tags | --set-tags may be specified.")
	}
	if e.setTagsSet && e.updateTagsSet {
		return errors.New("argument --set-tags: At most one of --set-tags | --update-tags may be specified.")
	}
	if e.empty() {
		return errors.New("No traffic change requested. Did you mean to include the flags `--to-revisions`, `--to-tags`, `--to-latest`, `--set-tags`, `--update-tags`, `--remove-tags` or `--clear-tags`?")
	}
	return nil
}

func (e *trafficEdit) empty() bool {
	return countTrue(e.toLatest, e.toRevisionsSet, e.toTagsSet, e.setTagsSet, e.updateTagsSet, e.removeTagsSet, e.clearTags) == 0
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// apply changes the model: percents first (--to-tags names revisions by their tags
// before this edit), then tags.
func (e *trafficEdit) apply(m *trafficModel, service string) error {
	var percents []trafficPercent
	switch {
	case e.toLatest:
		percents = []trafficPercent{{key: latestKey, percent: 100}}
	case e.toRevisionsSet:
		percents = e.toRevisions
	case e.toTagsSet:
		byKey := map[string]string{}
		for _, p := range e.toTags {
			key, ok := m.keyOfTag(p.key)
			if !ok {
				return fmt.Errorf("There is no revision tagged with [%s] in the traffic allocation for [%s].", p.key, service)
			}
			if other, dup := byKey[key]; dup {
				return fmt.Errorf("Tags [%s] and [%s] are on the same revision [%s]: give its percent once.", other, p.key, key)
			}
			byKey[key] = p.key
			percents = append(percents, trafficPercent{key: key, percent: p.percent})
		}
	}
	if percents != nil {
		if err := m.setPercents(percents); err != nil {
			return err
		}
	}
	if e.setTagsSet || e.clearTags {
		m.clearTags()
	}
	for _, tag := range e.removeTags {
		m.removeTag(tag)
	}
	for _, tr := range append(slices.Clone(e.setTags), e.updateTags...) {
		m.setTag(tr.tag, tr.revision)
	}
	return nil
}

// percentsValue is the flag type of --to-revisions and --to-tags; repeating the flag
// adds to the list.
type percentsValue struct {
	items []trafficPercent
	set   bool
	tags  bool
}

func (v *percentsValue) Set(s string) error {
	items, err := parseTrafficPercents(s, v.tags)
	if err != nil {
		return err
	}
	for _, it := range items {
		if slices.ContainsFunc(v.items, func(t trafficPercent) bool { return t.key == it.key }) {
			return fmt.Errorf("[%s] is given more than once.", it.key)
		}
	}
	v.items, v.set = append(v.items, items...), true
	return nil
}

func (v *percentsValue) String() string {
	parts := make([]string, len(v.items))
	for i, it := range v.items {
		parts[i] = fmt.Sprintf("%s=%d", it.key, it.percent)
	}
	return strings.Join(parts, ",")
}

func (v *percentsValue) Type() string { return "dict" }

// tagsValue is the flag type of --set-tags and --update-tags.
type tagsValue struct {
	items []tagRevision
	set   bool
}

func (v *tagsValue) Set(s string) error {
	items, err := parseTagRevisions(s)
	if err != nil {
		return err
	}
	for _, it := range items {
		if slices.ContainsFunc(v.items, func(t tagRevision) bool { return t.tag == it.tag }) {
			return fmt.Errorf("Tag [%s] is given more than once.", it.tag)
		}
	}
	v.items, v.set = append(v.items, items...), true
	return nil
}

func (v *tagsValue) String() string {
	parts := make([]string, len(v.items))
	for i, it := range v.items {
		parts[i] = it.tag + "=" + it.revision
	}
	return strings.Join(parts, ",")
}

func (v *tagsValue) Type() string { return "dict" }

// trafficFlags are update-traffic's flags.
type trafficFlags struct {
	toRevisions, toTags *percentsValue
	toLatest            bool
	setTags, updateTags *tagsValue
	removeTags          *listValue
	clearTags, async    bool
}

func addTrafficFlags(fs *pflag.FlagSet) *trafficFlags {
	f := &trafficFlags{toRevisions: &percentsValue{}, toTags: &percentsValue{tags: true}, setTags: &tagsValue{}, updateTags: &tagsValue{}}
	fs.Var(f.toRevisions, "to-revisions", "Comma-separated REVISION=PERCENTAGE pairs; LATEST names the latest ready revision. Percentages under 100 in total leave the rest to the revisions that serve traffic now, in proportion.")
	fs.Var(f.toTags, "to-tags", "Comma-separated TAG=PERCENTAGE pairs, naming revisions by their tags.")
	fs.BoolVar(&f.toLatest, "to-latest", false, "Send all traffic to the latest ready revision, and to later ones as they become ready.")
	fs.Var(f.setTags, "set-tags", "Comma-separated TAG=REVISION pairs that replace all tags.")
	fs.Var(f.updateTags, "update-tags", "Comma-separated TAG=REVISION pairs to add or move.")
	f.removeTags = addList(fs, "remove-tags", "Comma-separated tags to remove.")
	fs.BoolVar(&f.clearTags, "clear-tags", false, "Remove all tags.")
	fs.BoolVar(&f.async, "async", false, "Return at once, without waiting for the service to be ready.")
	return f
}

func (f *trafficFlags) edit() *trafficEdit {
	return &trafficEdit{
		toRevisions: f.toRevisions.items, toRevisionsSet: f.toRevisions.set,
		toTags: f.toTags.items, toTagsSet: f.toTags.set,
		toLatest: f.toLatest,
		setTags:  f.setTags.items, setTagsSet: f.setTags.set,
		updateTags: f.updateTags.items, updateTagsSet: f.updateTags.set,
		removeTags: f.removeTags.items, removeTagsSet: f.removeTags.set,
		clearTags: f.clearTags,
	}
}

func (a *app) runUpdateTrafficCommand() *cobra.Command {
	var f *runFlags
	var tf *trafficFlags
	cmd := a.command("update-traffic SERVICE", "Adjust the traffic assignments of a Cloud Run service.", exactArgs("SERVICE"), func(s *session, args []string) error {
		name := args[0]
		edit := tf.edit()
		if err := edit.check(); err != nil {
			return err
		}
		path, err := f.servicesPath(s, name)
		if err != nil {
			return err
		}
		s.status("Updating traffic of Cloud Run service [%s] in project [%s] region [%s]", name, s.project, f.regionName())
		// Read, change, write; a write that lost a race with a status update starts
		// over from a fresh read.
		for attempt := 0; ; attempt++ {
			var svc api.KnativeService
			if err := s.get(path, &svc); err != nil {
				return err
			}
			m := newTrafficModel(svc.Spec.Traffic)
			if err := edit.apply(m, name); err != nil {
				return err
			}
			svc.Spec.Traffic = m.targets()
			svc.Status = nil
			err := s.client.do(s.ctx, http.MethodPut, path, &svc, nil)
			if err == nil {
				break
			}
			if !hasReason(err, "conflict") || attempt == 4 {
				return err
			}
		}
		if tf.async {
			s.status("Updating traffic asynchronously.")
			return nil
		}
		done, err := s.waitForService(path, name)
		if err != nil {
			return err
		}
		s.status("Done.")
		return s.showTraffic(done)
	})
	f = a.addRunFlags(cmd.Flags())
	tf = addTrafficFlags(cmd.Flags())
	return cmd
}

// resolvedTraffic is the service's traffic as the spec asks for it, with LATEST
// resolved to the latest ready revision and tags' URLs from the status, sorted as
// gcloud prints it: revisions by name, then LATEST.
func resolvedTraffic(svc *api.KnativeService) []api.TrafficTarget {
	latestReady := ""
	tagURLs := map[string]string{}
	if svc.Status != nil {
		latestReady = svc.Status.LatestReadyRevisionName
		for _, t := range svc.Status.Traffic {
			if t.Tag != "" && t.URL != "" {
				tagURLs[t.Tag] = t.URL
			}
		}
	}
	targets := newTrafficModel(svc.Spec.Traffic).targets()
	slices.SortStableFunc(targets, func(a, b api.TrafficTarget) int {
		ka, kb := trafficSortKey(a), trafficSortKey(b)
		if ka != kb {
			return strings.Compare(ka, kb)
		}
		return int(b.Percent - a.Percent)
	})
	for i := range targets {
		if targets[i].LatestRevision != nil {
			targets[i].RevisionName = latestReady
		}
		targets[i].URL = tagURLs[targets[i].Tag]
	}
	return targets
}

func trafficSortKey(t api.TrafficTarget) string {
	if t.LatestRevision != nil && *t.LatestRevision {
		return "2"
	}
	return "1" + t.RevisionName
}

// showTraffic prints the service's URL and traffic as gcloud does after a traffic
// change, or the resolved traffic targets in the user's --format.
func (s *session) showTraffic(svc *api.KnativeService) error {
	targets := resolvedTraffic(svc)
	if s.format != "" {
		data, err := json.Marshal(targets)
		if err != nil {
			return err
		}
		var items []any
		if err := json.Unmarshal(data, &items); err != nil {
			return err
		}
		return s.show("", items, false)
	}
	url := ""
	if svc.Status != nil {
		url = svc.Status.URL
	}
	writeTraffic(s.stdout, url, targets)
	return nil
}

// writeTraffic prints "URL: …" and "Traffic:" with a line per revision and a line per
// tag under it:
//
//	Traffic:
//	  90% my-app-00001-abc
//	  10% my-app-00002-xyz
//	        green: http://green---my-app…
func writeTraffic(w io.Writer, url string, targets []api.TrafficTarget) {
	type line struct {
		percent, revision string
		tags              []string
	}
	var lines []*line
	byKey := map[string]*line{}
	width := 0
	for _, t := range targets {
		key, rev := "rev:"+t.RevisionName, t.RevisionName
		if t.LatestRevision != nil && *t.LatestRevision {
			key, rev = "latest", latestKey
			if t.RevisionName != "" {
				rev = fmt.Sprintf("%s (currently %s)", latestKey, t.RevisionName)
			}
		}
		l := byKey[key]
		if l == nil {
			l = &line{revision: rev}
			byKey[key] = l
			lines = append(lines, l)
		}
		if t.Percent > 0 || l.percent == "" {
			l.percent = fmt.Sprintf("%d%%", t.Percent)
		}
		width = max(width, len(l.percent))
		if t.Tag != "" {
			tag := t.Tag
			if t.URL != "" {
				tag += ": " + t.URL
			}
			l.tags = append(l.tags, tag)
		}
	}
	var b strings.Builder
	if url != "" {
		fmt.Fprintf(&b, "URL: %s\n", url)
	}
	b.WriteString("Traffic:\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "  %-*s %s\n", width, l.percent, l.revision)
		for _, tag := range l.tags {
			fmt.Fprintf(&b, "        %s\n", tag)
		}
	}
	io.WriteString(w, b.String())
}
