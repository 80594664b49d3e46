package policy

import (
	"net/http"
	"strconv"
	"strings"
)

// ChunkSize is the size and alignment of the cache's own range fills (Cloud CDN:
// 2,097,136 bytes; the last chunk of an object may be shorter).
const ChunkSize = 2097136

// RangeStoreLimit is the largest response stored whole from an origin that supports
// ranges: a larger one (or a partial one) is not stored but marks its key as filled in
// chunks (Cloud CDN: 1 MiB).
const RangeStoreLimit = 1 << 20

// MaxRangedSize is the largest object filled in chunks (Cloud CDN: 100 GiB).
const MaxRangedSize = 100 << 30

// Span is a byte range, First and Last inclusive (RFC 9110 14.1.1).
type Span struct{ First, Last int64 }

// Len is the number of bytes in the span.
func (s Span) Len() int64 { return s.Last - s.First + 1 }

// ParseRange parses a Range field's value (RFC 9110 14.1.2) against a representation
// of size bytes and returns the satisfiable ranges it names, in order, each clipped to
// the representation. ok is false when the field is not a valid bytes range set; a
// valid one with no satisfiable range returns ok and no spans (a 416).
func ParseRange(v string, size int64) (spans []Span, ok bool) {
	unit, set, found := strings.Cut(v, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, false
	}
	for _, spec := range strings.Split(set, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue // RFC 9110 5.6.1: empty list elements are ignored
		}
		first, last, found := strings.Cut(spec, "-")
		if !found {
			return nil, false
		}
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)
		if first == "" {
			// A suffix range: the last N bytes.
			n, err := digits(last)
			if err != nil {
				return nil, false
			}
			if n > 0 && size > 0 {
				spans = append(spans, Span{max(size-n, 0), size - 1})
			}
			continue
		}
		f, err := digits(first)
		if err != nil {
			return nil, false
		}
		l := int64(-1)
		if last != "" {
			if l, err = digits(last); err != nil || l < f {
				return nil, false
			}
		}
		if f >= size {
			continue // unsatisfiable
		}
		if l < 0 || l >= size {
			l = size - 1
		}
		spans = append(spans, Span{f, l})
	}
	if len(spans) == 0 && !strings.ContainsAny(set, "0123456789") {
		return nil, false
	}
	return spans, true
}

// digits parses a non-empty run of decimal digits (no sign), saturating at the int64
// maximum.
func digits(s string) (int64, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, strconv.ErrSyntax
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// ParseContentRange parses a 206's Content-Range, "bytes FIRST-LAST/COMPLETE" (RFC
// 9110 14.4); complete is -1 when the length is unknown ("*").
func ParseContentRange(v string) (s Span, complete int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return Span{}, 0, false
	}
	rng, total, found := strings.Cut(rest, "/")
	if !found {
		return Span{}, 0, false
	}
	first, last, found := strings.Cut(rng, "-")
	if !found {
		return Span{}, 0, false
	}
	f, err1 := digits(first)
	l, err2 := digits(last)
	if err1 != nil || err2 != nil || l < f {
		return Span{}, 0, false
	}
	complete = -1
	if total != "*" {
		n, err := digits(total)
		if err != nil || l >= n {
			return Span{}, 0, false
		}
		complete = n
	}
	return Span{f, l}, complete, true
}

// RangeSupport reports whether a response shows that its origin serves byte ranges as
// Cloud CDN requires before it fills in chunks: a 200 or 206 with
// "Accept-Ranges: bytes", its length (a 200's Content-Length, a 206's complete length in
// Content-Range), Last-Modified and a strong ETag. It returns the representation's
// complete length.
func RangeSupport(status int, h http.Header) (int64, bool) {
	if !acceptsBytes(h) || h.Get("Last-Modified") == "" {
		return 0, false
	}
	if etag := h.Get("ETag"); etag == "" || strings.HasPrefix(etag, "W/") {
		return 0, false
	}
	switch status {
	case http.StatusOK:
		n, err := digits(h.Get("Content-Length"))
		return n, err == nil
	case http.StatusPartialContent:
		_, complete, ok := ParseContentRange(h.Get("Content-Range"))
		return complete, ok && complete >= 0
	}
	return 0, false
}

func acceptsBytes(h http.Header) bool {
	for _, line := range h.Values("Accept-Ranges") {
		for _, u := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(u), "bytes") {
				return true
			}
		}
	}
	return false
}

// Chunk returns the span of chunk i of an object of size bytes.
func Chunk(i, size int64) Span {
	first := i * ChunkSize
	return Span{first, min(first+ChunkSize, size) - 1}
}
