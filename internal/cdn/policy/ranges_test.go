package policy

import (
	"reflect"
	"testing"
)

// RFC 9110 14.1.2's examples, against a representation of 10000 bytes.
func TestParseRangeRFC9110Examples(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want []Span
	}{
		{"bytes=0-499", []Span{{0, 499}}},
		{"bytes=500-999", []Span{{500, 999}}},
		{"bytes=-500", []Span{{9500, 9999}}},
		{"bytes=9500-", []Span{{9500, 9999}}},
		{"bytes=0-0,-1", []Span{{0, 0}, {9999, 9999}}},
		{"bytes= 0-999, 4500-5499, -1000", []Span{{0, 999}, {4500, 5499}, {9000, 9999}}},
		{"bytes=500-600,601-999", []Span{{500, 600}, {601, 999}}},
		{"bytes=500-700,601-999", []Span{{500, 700}, {601, 999}}},
		{"BYTES=0-", []Span{{0, 9999}}},
		{"bytes=9000-20000", []Span{{9000, 9999}}}, // a last position past the end is clipped
		{"bytes=-20000", []Span{{0, 9999}}},
		{"bytes=10000-", nil}, // valid, unsatisfiable: 416
		{"bytes=-0", nil},
	} {
		got, ok := ParseRange(tc.v, 10000)
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", tc.v, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "bytes", "items=0-1", "bytes=1-0", "bytes=a-b", "bytes=0-1-2", "bytes=+1-2", "bytes=", "bytes=,", "bytes=5"} {
		if got, ok := ParseRange(bad, 10000); ok {
			t.Errorf("ParseRange(%q) = %v, ok; want invalid", bad, got)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		v        string
		span     Span
		complete int64
		ok       bool
	}{
		{"bytes 42-1233/1234", Span{42, 1233}, 1234, true},
		{"bytes 42-1233/*", Span{42, 1233}, -1, true},
		{"bytes 0-0/1", Span{0, 0}, 1, true},
		{"bytes 42-1234/1234", Span{}, 0, false}, // past the end
		{"bytes */1234", Span{}, 0, false},       // a 416's form, not a 206's
		{"bytes 5-4/10", Span{}, 0, false},
		{"items 0-1/2", Span{}, 0, false},
	} {
		span, complete, ok := ParseContentRange(tc.v)
		if ok != tc.ok || ok && (span != tc.span || complete != tc.complete) {
			t.Errorf("ParseContentRange(%q) = %v %d %v; want %v %d %v", tc.v, span, complete, ok, tc.span, tc.complete, tc.ok)
		}
	}
}

// Reference section 2: an origin supports ranges when a 200 or 206 has
// Accept-Ranges: bytes, its length, Last-Modified and a strong ETag.
func TestRangeSupport(t *testing.T) {
	full := hdr("Accept-Ranges", "bytes", "Content-Length", "5000000", "Last-Modified", "Mon, 02 Nov 2026 10:00:00 GMT", "ETag", `"v1"`)
	if n, ok := RangeSupport(200, full); !ok || n != 5000000 {
		t.Fatalf("200: %d %v", n, ok)
	}
	part := full.Clone()
	part.Del("Content-Length")
	part.Set("Content-Range", "bytes 0-99/5000000")
	if n, ok := RangeSupport(206, part); !ok || n != 5000000 {
		t.Fatalf("206: %d %v", n, ok)
	}
	part.Set("Content-Range", "bytes 0-99/*")
	if _, ok := RangeSupport(206, part); ok {
		t.Fatal("206 without a complete length supports ranges")
	}
	for _, drop := range []string{"Accept-Ranges", "Last-Modified", "ETag", "Content-Length"} {
		h := full.Clone()
		h.Del(drop)
		if _, ok := RangeSupport(200, h); ok {
			t.Errorf("without %s: supported", drop)
		}
	}
	weak := full.Clone()
	weak.Set("ETag", `W/"v1"`)
	if _, ok := RangeSupport(200, weak); ok {
		t.Error("a weak ETag: supported")
	}
	if _, ok := RangeSupport(404, full); ok {
		t.Error("a 404: supported")
	}
}

// The reference's example: client bytes 1,000,000-3,999,999 fall in chunks 0 and 1,
// 4,194,272 bytes of fill.
func TestChunksOfTheSeedExample(t *testing.T) {
	size := int64(10 << 20)
	first, last := int64(1000000)/ChunkSize, int64(3999999)/ChunkSize
	var fill int64
	for i := first; i <= last; i++ {
		fill += Chunk(i, size).Len()
	}
	if first != 0 || last != 1 || fill != 4194272 {
		t.Fatalf("chunks %d..%d, %d bytes", first, last, fill)
	}
	if c := Chunk(5, size); c.First != 5*ChunkSize || c.Last != size-1 {
		t.Fatalf("last chunk %v", c)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-500", "bytes=9500-", "bytes= 0-999, 4500-5499, -1000", "bytes=99999999999999999999-", "bytes=-"} {
		f.Add(s, int64(10000))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		spans, ok := ParseRange(v, size)
		if !ok && spans != nil {
			t.Fatal("spans with an invalid field")
		}
		for _, s := range spans {
			if s.First < 0 || s.Last < s.First || s.Last >= size {
				t.Fatalf("%q size %d: span %v outside the representation", v, size, s)
			}
		}
		if sp, complete, ok := ParseContentRange(v); ok && (sp.First < 0 || sp.Last < sp.First || complete >= 0 && sp.Last >= complete) {
			t.Fatalf("ParseContentRange(%q) = %v/%d", v, sp, complete)
		}
	})
}
