package storage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Disk is the cache's disk tier: one file per entry in a directory, under a byte
// budget, with W-TinyLFU eviction over an index kept in memory (otter; an evicted or
// replaced entry's file is removed as it leaves the index). It outlives the process:
// Open indexes what an earlier run left.
//
// A file is written whole under a temporary name and renamed, so a crash leaves either
// the old entry or the new one, never a torn one; files are named by a hash of the key
// and a sequence number, so a replacement never overwrites a file a reader may hold.
type Disk struct {
	dir string
	idx *otter.Cache[string, *diskItem]
	seq atomic.Uint64
}

type diskItem struct {
	file string
	meta *Entry // the entry without its body: what invalidation matches on
}

// diskMagic starts every entry file; the format is the magic, a 4-byte big-endian
// length, that many bytes of JSON (the key and the entry without its body), the body.
const diskMagic = "MERIDIAN-CACHE-1\n"

type diskRecord struct {
	Key   string
	Entry *Entry
}

// OpenDisk opens (creating it if needed) a disk tier of at most maxBytes in dir and
// indexes the entries an earlier run stored there.
func OpenDisk(dir string, maxBytes uint64) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	d := &Disk{dir: dir}
	d.seq.Store(uint64(time.Now().UnixNano()))
	d.idx = otter.Must(&otter.Options[string, *diskItem]{
		MaximumWeight: max(maxBytes, 1),
		Weigher: func(_ string, it *diskItem) uint32 {
			return uint32(min(it.size(), 1<<32-1))
		},
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *diskItem]) {
			os.Remove(filepath.Join(d.dir, ev.Value.file))
		},
	})
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

// size is the file's length, kept in the entry's Size field of the index's copy.
func (it *diskItem) size() int64 { return it.meta.diskSize }

// load indexes the directory's entry files, keeping the newest file of each key and
// removing temporary files a crash left.
func (d *Disk) load() error {
	names, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	newest := map[string]struct {
		seq  uint64
		file string
		meta *Entry
	}{}
	for _, de := range names {
		name := de.Name()
		path := filepath.Join(d.dir, name)
		if strings.HasPrefix(name, "tmp-") {
			os.Remove(path)
			continue
		}
		seq, ok := entrySeq(name)
		if !ok {
			continue
		}
		key, meta, err := readMeta(path)
		if err != nil {
			os.Remove(path) // unreadable: not an entry this tier can serve
			continue
		}
		if n, ok := newest[key]; ok {
			if n.seq > seq {
				os.Remove(path)
				continue
			}
			os.Remove(filepath.Join(d.dir, n.file))
		}
		newest[key] = struct {
			seq  uint64
			file string
			meta *Entry
		}{seq, name, meta}
		if seq > d.seq.Load() {
			d.seq.Store(seq)
		}
	}
	for key, n := range newest {
		d.idx.Set(key, &diskItem{file: n.file, meta: n.meta})
	}
	return nil
}

// entrySeq returns the sequence number in an entry file's name.
func entrySeq(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, ".ent")
	if !ok {
		return 0, false
	}
	_, seq, ok := strings.Cut(base, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 16, 64)
	return n, err == nil
}

// readMeta reads an entry file's key and entry, without the body.
func readMeta(path string) (string, *Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	key, e, _, err := decodeHead(bufio.NewReader(f), st.Size())
	if err != nil {
		return "", nil, err
	}
	e.diskSize = st.Size()
	return key, e, nil
}

// decodeHead reads an entry file's magic and record from r, for a file of size bytes,
// and returns the body's length.
func decodeHead(r io.Reader, size int64) (string, *Entry, int64, error) {
	head := make([]byte, len(diskMagic)+4)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(diskMagic)]) != diskMagic {
		return "", nil, 0, errors.New("not a cache entry file")
	}
	n := int64(binary.BigEndian.Uint32(head[len(diskMagic):]))
	if n > size-int64(len(head)) || n > maxRecord {
		return "", nil, 0, errors.New("cache entry file is cut short")
	}
	meta := make([]byte, n)
	if _, err := io.ReadFull(r, meta); err != nil {
		return "", nil, 0, err
	}
	var rec diskRecord
	if err := json.Unmarshal(meta, &rec); err != nil || rec.Entry == nil {
		return "", nil, 0, errors.New("cache entry file has a corrupt record")
	}
	if body := size - int64(len(head)) - n; body != rec.Entry.BodyLen {
		return "", nil, 0, errors.New("cache entry file's body is cut short")
	}
	return rec.Key, rec.Entry, rec.Entry.BodyLen, nil
}

// Get reads the entry stored under key.
func (d *Disk) Get(key string) (*Entry, bool) {
	e, _, ok := d.get(key)
	return e, ok
}

// get reads the entry stored under key, and returns the index item it read.
func (d *Disk) get(key string) (*Entry, *diskItem, bool) {
	it, ok := d.idx.GetIfPresent(key)
	if !ok {
		return nil, nil, false
	}
	data, err := os.ReadFile(filepath.Join(d.dir, it.file))
	if err != nil {
		d.forget(key, it) // gone (unless replaced meanwhile: then the new one stands)
		return nil, nil, false
	}
	k, e, bodyLen, err := decodeHead(bytes.NewReader(data), int64(len(data)))
	body := data[int64(len(data))-bodyLen:]
	if err != nil || k != key || crc32.Checksum(body, castagnoli) != e.BodyCRC {
		d.forget(key, it) // torn or corrupt: not served
		return nil, nil, false
	}
	e.Body = body
	e.Memo = &Memo{}
	return e, it, true
}

// forget removes key's index item if it is still it.
func (d *Disk) forget(key string, it *diskItem) {
	d.idx.ComputeIfPresent(key, func(cur *diskItem) (*diskItem, otter.ComputeOp) {
		if cur == it {
			return nil, otter.InvalidateOp
		}
		return cur, otter.CancelOp
	})
}

// holds reports whether key's index item is still it.
func (d *Disk) holds(key string, it *diskItem) bool {
	cur, ok := d.idx.GetEntryQuietly(key)
	return ok && cur.Value == it
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds what Get reads as an entry's record.
const maxRecord = 1 << 20

// Set writes an entry under key, replacing what was there.
func (d *Disk) Set(key string, e *Entry) error {
	// The body's length and checksum are kept in the record, so that a file a crash
	// left torn or with unwritten blocks (there is no fsync: a crash may lose recent
	// entries, but never serves a broken one) is not taken for the entry.
	withSum := *e
	withSum.BodyLen, withSum.BodyCRC = int64(len(e.Body)), crc32.Checksum(e.Body, castagnoli)
	e = &withSum
	rec, err := json.Marshal(diskRecord{Key: key, Entry: e})
	if err != nil {
		return err
	}
	if len(rec) > maxRecord {
		return errors.New("cache entry's headers are too large for the disk tier")
	}
	sum := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(sum[:16]) + "-" + strconv.FormatUint(d.seq.Add(1), 16) + ".ent"
	tmp := filepath.Join(d.dir, "tmp-"+name)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	head := make([]byte, len(diskMagic)+4)
	copy(head, diskMagic)
	binary.BigEndian.PutUint32(head[len(diskMagic):], uint32(len(rec)))
	w.Write(head)
	w.Write(rec)
	w.Write(e.Body)
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(d.dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	meta := *e
	meta.Body, meta.Memo = nil, nil
	meta.diskSize = int64(len(head) + len(rec) + len(e.Body))
	d.idx.Set(key, &diskItem{file: name, meta: &meta})
	return nil
}

// Delete removes the entry under key (its file goes at once).
func (d *Disk) Delete(key string) { d.idx.Invalidate(key) }

// Has reports whether an entry is stored under key.
func (d *Disk) Has(key string) bool {
	_, ok := d.idx.GetIfPresent(key)
	return ok
}

// Len and Bytes report what the tier holds, once its pending maintenance (evictions,
// which remove files) is done.
func (d *Disk) Len() int {
	d.idx.CleanUp()
	return d.idx.EstimatedSize()
}

func (d *Disk) Bytes() uint64 {
	d.idx.CleanUp()
	return d.idx.WeightedSize()
}

// Clear removes every entry.
func (d *Disk) Clear() { d.idx.InvalidateAll() }

// Close stops the index's background work; the files stay for the next run.
func (d *Disk) Close() { d.idx.StopAllGoroutines() }

// Generation is what the disk's entries were last known to have had applied: the
// newest invalidation revision and when it was known. An entry can be trusted after a
// restart only if every rule written meanwhile is still there to be applied.
type Generation struct {
	Revision int64
	Time     time.Time
}

const generationFile = "generation.json"

// LoadGeneration returns the recorded generation (zero when none is).
func (d *Disk) LoadGeneration() Generation {
	var g Generation
	if data, err := os.ReadFile(filepath.Join(d.dir, generationFile)); err == nil {
		json.Unmarshal(data, &g)
	}
	return g
}

// SaveGeneration records a generation.
func (d *Disk) SaveGeneration(g Generation) error {
	data, _ := json.Marshal(g)
	tmp := filepath.Join(d.dir, "tmp-"+generationFile+strconv.FormatUint(d.seq.Add(1), 16))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d.dir, generationFile))
}
