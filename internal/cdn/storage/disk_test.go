package storage

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func entryOf(body string) *Entry {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	return &Entry{Status: 200, Header: http.Header{"Etag": {`"x"`}, "Cache-Tag": {"a"}}, Body: []byte(body),
		RequestTime: t0, ResponseTime: t0, TTL: time.Hour, Stored: t0, Service: "svc", Host: "h", Path: "/p", Tags: []string{"a"}, Gen: 7,
		Ranged: body == "", Size: 42}
}

func entryFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".ent") {
			out = append(out, de.Name())
		}
	}
	return out
}

// An entry written to the disk tier is read back whole, by this run and by the next.
func TestDiskOutlivesTheProcess(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDisk(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := entryOf("hello, disk")
	if err := d.Set("k1", want); err != nil {
		t.Fatal(err)
	}
	d.Set("mark", entryOf(""))
	check := func(d *Disk) {
		t.Helper()
		got, ok := d.Get("k1")
		if !ok || string(got.Body) != "hello, disk" || got.Header.Get("ETag") != `"x"` || got.TTL != time.Hour || got.Gen != 7 ||
			got.Service != "svc" || got.Path != "/p" || !got.ResponseTime.Equal(want.ResponseTime) || got.Memo == nil {
			t.Fatalf("read back %+v, %v", got, ok)
		}
		if m, ok := d.Get("mark"); !ok || !m.Ranged || m.Size != 42 || len(m.Body) != 0 {
			t.Fatalf("mark read back %+v", m)
		}
	}
	check(d)
	d.Close()
	d2, err := OpenDisk(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	check(d2)
	if d2.Len() != 2 {
		t.Fatalf("reopened with %d entries", d2.Len())
	}
}

// A replaced entry's old file goes; a crash's temporary files and unreadable files are
// removed on open.
func TestDiskReplacementAndRecovery(t *testing.T) {
	dir := t.TempDir()
	d, _ := OpenDisk(dir, 1<<20)
	d.Set("k", entryOf("one"))
	old := entryFiles(t, dir)
	d.Set("k", entryOf("two"))
	if files := entryFiles(t, dir); len(files) != 1 || files[0] == old[0] {
		t.Fatalf("after a replacement: %v (was %v)", files, old)
	}
	// What a crash could leave: a temporary file, garbage.
	d.Close()
	os.WriteFile(filepath.Join(dir, "tmp-half.ent"), []byte("MERIDIAN"), 0o644)
	os.WriteFile(filepath.Join(dir, "0123-1.ent"), []byte("not an entry"), 0o644)
	d2, _ := OpenDisk(dir, 1<<20)
	defer d2.Close()
	d2.Set("k", entryOf("three"))
	d2.Close()
	d3, _ := OpenDisk(dir, 1<<20)
	defer d3.Close()
	if e, ok := d3.Get("k"); !ok || string(e.Body) != "three" {
		t.Fatalf("got %v %v; want the newest", e, ok)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp-half.ent")); !os.IsNotExist(err) {
		t.Fatal("a temporary file survived open")
	}
	if _, err := os.Stat(filepath.Join(dir, "0123-1.ent")); !os.IsNotExist(err) {
		t.Fatal("an unreadable file survived open")
	}
}

// Two files of one key: the one with the higher sequence wins and the other is removed.
func TestDiskKeepsTheNewestOfTwoFiles(t *testing.T) {
	dir := t.TempDir()
	d, _ := OpenDisk(dir, 1<<20)
	d.Set("k", entryOf("older"))
	f1 := entryFiles(t, dir)[0]
	data, _ := os.ReadFile(filepath.Join(dir, f1))
	d.Set("k", entryOf("newer"))
	d.Close()
	// Put the older file back, under its own (lower) sequence.
	os.WriteFile(filepath.Join(dir, f1), data, 0o644)
	d2, _ := OpenDisk(dir, 1<<20)
	defer d2.Close()
	if e, ok := d2.Get("k"); !ok || string(e.Body) != "newer" {
		t.Fatalf("got %q", e.Body)
	}
	if files := entryFiles(t, dir); len(files) != 1 {
		t.Fatalf("files %v", files)
	}
}

// The tier stays within its budget: evicted entries' files are removed.
func TestDiskBudget(t *testing.T) {
	dir := t.TempDir()
	d, _ := OpenDisk(dir, 64<<10)
	defer d.Close()
	body := strings.Repeat("x", 4<<10)
	for i := range 100 {
		d.Set(fmt.Sprint("k", i), entryOf(body))
	}
	indexed := d.Bytes() // settles the evictions
	var total int64
	for _, f := range entryFiles(t, dir) {
		st, _ := os.Stat(filepath.Join(dir, f))
		total += st.Size()
	}
	if total > 64<<10 || indexed > 64<<10 || total != int64(indexed) {
		t.Fatalf("%d bytes of files, %d indexed, over a 64 KiB budget", total, indexed)
	}
	if len(entryFiles(t, dir)) != d.Len() {
		t.Fatalf("%d files for %d entries", len(entryFiles(t, dir)), d.Len())
	}
}

// Behind the memory tier: a large object memory declines on its first offer is kept
// on disk; an entry only on disk is found, iterated (without its body), updated and
// deleted.
func TestStoreWithDisk(t *testing.T) {
	s := New(64 << 10)
	defer s.Close()
	d, _ := OpenDisk(t.TempDir(), 1<<20)
	s.UseDisk(d)
	big := entryOf(strings.Repeat("b", 8<<10)) // over 1/32 of the memory budget
	if !s.Set("big", big) {
		t.Fatal("the disk tier did not take a large object")
	}
	if _, inMemory := s.c.GetIfPresent("big"); inMemory {
		t.Fatal("memory took a large object on its first offer")
	}
	if e, ok := s.Get("big"); !ok || !bytes.Equal(e.Body, big.Body) {
		t.Fatal("a disk-only entry was not found")
	}
	s.c.Invalidate("big") // as if memory evicted it
	seen := false
	for k, e := range s.All() {
		if k == "big" {
			seen = e.Path == "/p" && e.Body == nil
		}
	}
	if !seen {
		t.Fatal("All missed a disk-only entry")
	}
	calls := 0
	s.Update("big", func(e *Entry) (*Entry, bool) {
		calls++
		c := *e
		c.TTL = 0
		return &c, true
	})
	if e, _ := d.Get("big"); calls != 1 || e.TTL != 0 || len(e.Body) != 8<<10 {
		t.Fatalf("update: %d calls, %+v", calls, e)
	}
	s.Delete("big")
	if _, ok := s.Get("big"); ok || d.Has("big") {
		t.Fatal("a deleted entry survived")
	}
}

func TestDiskGeneration(t *testing.T) {
	d, _ := OpenDisk(t.TempDir(), 1<<20)
	defer d.Close()
	if g := d.LoadGeneration(); g.Revision != 0 || !g.Time.IsZero() {
		t.Fatalf("fresh: %+v", g)
	}
	want := Generation{Revision: 12, Time: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	d.SaveGeneration(want)
	if g := d.LoadGeneration(); g.Revision != 12 || !g.Time.Equal(want.Time) {
		t.Fatalf("saved %+v, loaded %+v", want, g)
	}
}

func FuzzDecodeHead(f *testing.F) {
	dir := f.TempDir()
	d, _ := OpenDisk(dir, 1<<20)
	d.Set("k", entryOf("body"))
	d.Close()
	for _, name := range entryFiles(f, dir) {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		f.Add(data)
	}
	f.Add([]byte(diskMagic + "\xff\xff\xff\xff{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, e, bodyLen, err := decodeHead(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if e == nil || bodyLen < 0 || bodyLen > int64(len(data)) {
			t.Fatalf("key %q entry %v body %d of %d bytes", key, e, bodyLen, len(data))
		}
	})
}
