package geo

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrInvalidName and ErrInvalidPoint are wrapped by the errors Add and ParseLocations
// return, for errors.Is.
var (
	ErrInvalidName  = errors.New("invalid location name")
	ErrInvalidPoint = errors.New("invalid coordinates")
)

// maxNameLen is the longest location name accepted, as for a DNS label.
const maxNameLen = 63

// Lookup returns the coordinates of a built-in location: a Google Cloud region such as
// "europe-west1" or a metro code such as "fra". The name is case-insensitive.
func Lookup(name string) (Point, bool) {
	p, ok := builtins[strings.ToLower(name)]
	return p, ok
}

// Table is the built-in locations plus locations added with Add, which take precedence
// over built-ins of the same name. The zero Table is ready to use and holds just the
// built-ins, as does NewTable(). A Table is safe for concurrent use.
type Table struct {
	mu     sync.RWMutex
	custom map[string]Point
}

// NewTable returns a Table holding the built-in locations.
func NewTable() *Table { return &Table{} }

// Add adds (or replaces) the location name. The name must be 1 to 63 lowercase ASCII
// letters, digits and hyphens; p must have Lat in [-90, 90] and Lon in [-180, 180].
// Adding a built-in's name overrides the built-in in this Table.
func (t *Table) Add(name string, p Point) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := checkPoint(p); err != nil {
		return fmt.Errorf("location %q: %w", name, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.custom == nil {
		t.custom = make(map[string]Point)
	}
	t.custom[name] = p
	return nil
}

// Lookup returns the coordinates of name, added or built in. The name is
// case-insensitive.
func (t *Table) Lookup(name string) (Point, bool) {
	name = strings.ToLower(name)
	t.mu.RLock()
	p, ok := t.custom[name]
	t.mu.RUnlock()
	if ok {
		return p, true
	}
	p, ok = builtins[name]
	return p, ok
}

// Nearest returns candidates ordered by increasing distance from from, as looked up in
// t. Candidates t does not know come last, in their original order; so do equally
// distant ones. candidates itself is not modified.
func (t *Table) Nearest(from Point, candidates []string) []string {
	type cand struct {
		name  string
		known bool
		km    float64
	}
	cs := make([]cand, len(candidates))
	for i, name := range candidates {
		p, ok := t.Lookup(name)
		cs[i] = cand{name: name, known: ok}
		if ok {
			cs[i].km = Distance(from, p)
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.known != b.known {
			if a.known {
				return -1
			}
			return 1
		}
		if !a.known {
			return 0
		}
		// cmp.Compare orders NaN (from NaN coordinates) first, consistently.
		return cmp.Compare(a.km, b.km)
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// ParseLocations parses user-defined locations such as a flag value:
//
//	home-lab=52.37,4.90;office=40.71,-74.0
//
// Entries are separated by ";" or newlines and have the form name=lat,lon, with
// optional spaces around each part; empty entries are ignored, so "" gives an empty
// map. Names follow the rules of Table.Add, and may not repeat. Errors name the
// offending entry.
func ParseLocations(s string) (map[string]Point, error) {
	out := make(map[string]Point)
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' || r == '\r' })
	for _, raw := range entries {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		name, p, err := parseEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("location entry %q: %w", clip(entry), err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("location entry %q: %q is defined twice", clip(entry), name)
		}
		out[name] = p
	}
	return out, nil
}

// parseEntry parses one name=lat,lon entry.
func parseEntry(entry string) (string, Point, error) {
	name, coords, ok := strings.Cut(entry, "=")
	if !ok {
		return "", Point{}, errors.New("want name=lat,lon")
	}
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return "", Point{}, err
	}
	latS, lonS, ok := strings.Cut(coords, ",")
	if !ok {
		return "", Point{}, fmt.Errorf("want name=lat,lon, got %q after %q", clip(coords), "=")
	}
	lat, err := parseCoord("latitude", latS)
	if err != nil {
		return "", Point{}, err
	}
	lon, err := parseCoord("longitude", lonS)
	if err != nil {
		return "", Point{}, err
	}
	p := Point{Lat: lat, Lon: lon}
	if err := checkPoint(p); err != nil {
		return "", Point{}, err
	}
	return name, p, nil
}

// parseCoord parses one decimal coordinate.
func parseCoord(what, s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: missing %s", ErrInvalidPoint, what)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a number", ErrInvalidPoint, what, clip(s))
	}
	return v, nil
}

// checkName reports whether name is 1 to 63 lowercase ASCII letters, digits and
// hyphens.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidName, clip(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w: %q: only lowercase letters, digits and hyphens are allowed", ErrInvalidName, name)
		}
	}
	return nil
}

// checkPoint reports whether p's coordinates are in range (and not NaN).
func checkPoint(p Point) error {
	if !(p.Lat >= -90 && p.Lat <= 90) {
		return fmt.Errorf("%w: latitude %v is outside [-90, 90]", ErrInvalidPoint, p.Lat)
	}
	if !(p.Lon >= -180 && p.Lon <= 180) {
		return fmt.Errorf("%w: longitude %v is outside [-180, 180]", ErrInvalidPoint, p.Lon)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	// Back up to a rune boundary so the result stays valid UTF-8 where s was.
	i := max
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
