package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"meridian/api"
	"meridian/internal/store"
)

// logbook keeps what services' instances write, per service, in etcd (api.LogLine
// batches under api.ServiceLogsPrefix), for `run services logs read` and Cloud
// Logging's entries.list. Lines are queued by the instances' output and written in
// batches by the logbook's own goroutine, so output never waits on etcd; the queue is
// bounded (lines beyond it are dropped and counted) and so is what each service keeps.
type logbook struct {
	st     *store.Store
	mirror io.Writer // the runtime's log: each line goes there too
	writer string    // this runtime's part of batch keys
	keep   int       // lines kept per service

	mu      sync.Mutex
	pending map[string][]api.LogLine // by service prefix
	queued  int
	dropped int64
	kept    map[string]*keptBatches // by service prefix, once read
	wake    chan struct{}
}

// keptBatches are a service's stored batches, oldest first, and their line counts.
type keptBatches struct {
	keys  []string
	lines []int
	total int
}

// logTimeFormat is RFC 3339 with all nine digits of fraction, so times sort as strings.
const logTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

const (
	logKeepPerService = 1000
	logQueueLimit     = 10000
	logLineLimit      = 16 << 10 // longer lines are cut
	logFlushEvery     = 200 * time.Millisecond
)

func newLogbook(st *store.Store, mirror io.Writer, writer string) *logbook {
	return &logbook{st: st, mirror: mirror, writer: writer, keep: logKeepPerService,
		pending: map[string][]api.LogLine{}, kept: map[string]*keptBatches{}, wake: make(chan struct{}, 1)}
}

// output is the writer of one instance's stream (stdout or stderr; "" for the runtime's
// own lines about a revision) of a service.
func (lb *logbook) output(project, region, service, revision, instance, stream string) io.Writer {
	return &lineWriter{lb: lb, prefix: api.ServiceLogsPrefix(project, region, service), line: api.LogLine{Revision: revision, Instance: instance, Stream: stream},
		label: mirrorLabel(region, service, revision, instance)}
}

// mirrorLabel starts a service's line in the runtime's log: "runtime: REGION/SERVICE
// revision R" for the runtime's own lines, "REGION/SERVICE INSTANCE" for an instance's.
func mirrorLabel(region, service, revision, instance string) string {
	if instance == "" {
		return "runtime: " + region + "/" + service + " revision " + revision
	}
	return region + "/" + service + " " + instance
}

// lineWriter splits a stream into lines. One goroutine writes each stream.
type lineWriter struct {
	lb     *logbook
	prefix string
	line   api.LogLine
	label  string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= logLineLimit {
				w.emit()
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) emit() {
	text := strings.TrimSuffix(string(w.buf), "\r")
	if len(text) > logLineLimit {
		text = text[:logLineLimit]
	}
	w.buf = w.buf[:0]
	fmt.Fprintf(w.lb.mirror, "%s: %s\n", w.label, text)
	l := w.line
	l.Time, l.Text = time.Now().UTC().Format(logTimeFormat), text
	w.lb.add(w.prefix, l)
}

func (lb *logbook) add(prefix string, l api.LogLine) {
	lb.mu.Lock()
	if lb.queued >= logQueueLimit {
		lb.dropped++
		lb.mu.Unlock()
		return
	}
	lb.pending[prefix] = append(lb.pending[prefix], l)
	lb.queued++
	lb.mu.Unlock()
	select {
	case lb.wake <- struct{}{}:
	default:
	}
}

// run writes queued lines until ctx is done, then writes what is left.
func (lb *logbook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			lb.flush(fctx)
			cancel()
			return
		case <-lb.wake:
		}
		lb.flush(ctx)
		// Batch what arrives in the next moments (and bound the write rate).
		select {
		case <-ctx.Done():
		case <-time.After(logFlushEvery):
		}
	}
}

// flush writes each service's queued lines as one batch and trims its oldest batches
// beyond what is kept. A failed write drops its batch (counted): logs never hold the
// runtime back.
func (lb *logbook) flush(ctx context.Context) {
	lb.mu.Lock()
	pending := lb.pending
	lb.pending, lb.queued = map[string][]api.LogLine{}, 0
	dropped := lb.dropped
	lb.dropped = 0
	lb.mu.Unlock()
	if dropped > 0 {
		fmt.Fprintf(lb.mirror, "runtime: %d log lines dropped: the queue was full\n", dropped)
	}
	for prefix, lines := range pending {
		k, err := lb.loadKept(ctx, prefix)
		if err != nil {
			fmt.Fprintf(lb.mirror, "runtime: logs: %v\n", err)
			continue
		}
		data, _ := json.Marshal(lines)
		key := fmt.Sprintf("%s%020d-%s", prefix, time.Now().UnixNano(), lb.writer)
		keys, counts, total := append(k.keys, key), append(k.lines, len(lines)), k.total+len(lines)
		var deletes []string
		for len(keys) > 1 && total-counts[0] >= lb.keep {
			deletes = append(deletes, keys[0])
			total -= counts[0]
			keys, counts = keys[1:], counts[1:]
		}
		if _, err := lb.st.Apply(ctx, store.Change{Puts: map[string][]byte{key: data}, Deletes: deletes}); err != nil {
			fmt.Fprintf(lb.mirror, "runtime: logs: %v\n", err)
			delete(lb.kept, prefix) // read again next time
			continue
		}
		k.keys, k.lines, k.total = keys, counts, total
	}
}

// loadKept returns what a service keeps, reading it on first use (only flush calls it).
func (lb *logbook) loadKept(ctx context.Context, prefix string) (*keptBatches, error) {
	if k := lb.kept[prefix]; k != nil {
		return k, nil
	}
	kvs, _, err := lb.st.ListAll(ctx, prefix)
	if err != nil {
		return nil, err
	}
	k := &keptBatches{}
	for _, kv := range kvs {
		var lines []api.LogLine
		json.Unmarshal(kv.Value, &lines)
		k.keys, k.lines, k.total = append(k.keys, kv.Key), append(k.lines, len(lines)), k.total+len(lines)
	}
	lb.kept[prefix] = k
	return k, nil
}
