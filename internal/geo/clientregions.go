package geo

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// ClientRegions maps client addresses to the country they are in (ISO 3166-1
// alpha-2), from a table the operator gives (for instance exported from a GeoIP
// database): what Cloud Armor's origin.region_code and the {client_region} header
// variable read. The longest prefix that holds an address wins.
type ClientRegions struct {
	byBits map[int]map[netip.Prefix]string
	bits   []int // the prefix lengths present, longest first
}

// maxClientRegionLines bounds the table a file may hold.
const maxClientRegionLines = 5_000_000

// ParseClientRegions reads lines of "CIDR,CC" (an address alone is its own /32 or
// /128); blank lines and lines starting with # are skipped. An error names the line.
func ParseClientRegions(r io.Reader) (*ClientRegions, error) {
	t := &ClientRegions{byBits: map[int]map[netip.Prefix]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		if n > maxClientRegionLines {
			return nil, fmt.Errorf("more than %d lines", maxClientRegionLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cidr, code, ok := strings.Cut(line, ",")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not CIDR,COUNTRY", n, line)
		}
		p, err := parsePrefix(strings.TrimSpace(cidr))
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not an address or CIDR range", n, cidr)
		}
		code = strings.ToUpper(strings.TrimSpace(code))
		if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
			return nil, fmt.Errorf("line %d: %q is not a two-letter country code", n, code)
		}
		m := t.byBits[p.Bits()]
		if m == nil {
			m = map[netip.Prefix]string{}
			t.byBits[p.Bits()] = m
			t.bits = append(t.bits, p.Bits())
		}
		m[p] = code
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(t.bits, func(a, b int) int { return b - a })
	return t, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("an IPv4-mapped range")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Lookup returns the country of an address, or "" when the table has none (or there
// is no table).
func (t *ClientRegions) Lookup(a netip.Addr) string {
	if t == nil || !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	for _, bits := range t.bits {
		if bits > a.BitLen() {
			continue
		}
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if code, ok := t.byBits[bits][p]; ok {
			return code
		}
	}
	return ""
}
