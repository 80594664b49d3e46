package store

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Event is one change a watch saw: a key (without the store's prefix) put with a
// value, or deleted.
type Event struct {
	Key         string
	Value       []byte
	Deleted     bool
	ModRevision int64
}

// Batch is the events of one watch response, with the store's revision when it was
// sent (everything up to it has been seen).
type Batch struct {
	Revision int64
	Events   []Event
}

// Watch follows every change of keys under prefix from revision rev on; with rev 0,
// from the moment Watch returns (it waits for etcd to confirm the watch). The channel
// closes when ctx is done or the watch breaks (no etcd leader, compacted history): the
// caller reads everything again and watches anew. It is the only way Meridian watches
// etcd.
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) <-chan Batch {
	out := make(chan Batch)
	ctx = clientv3.WithRequireLeader(ctx)
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	} else {
		opts = append(opts, clientv3.WithCreatedNotify())
	}
	in := s.client.Watch(ctx, s.prefix+prefix, opts...)
	if rev <= 0 {
		select {
		case resp, ok := <-in:
			if !ok || resp.Err() != nil || !resp.Created {
				close(out)
				return out
			}
		case <-ctx.Done():
			close(out)
			return out
		}
	}
	go func() {
		defer close(out)
		for resp := range in {
			if resp.Err() != nil {
				return
			}
			b := Batch{Revision: resp.Header.Revision, Events: make([]Event, len(resp.Events))}
			for i, ev := range resp.Events {
				b.Events[i] = Event{Key: string(ev.Kv.Key[len(s.prefix):]), Value: ev.Kv.Value,
					Deleted: ev.Type == clientv3.EventTypeDelete, ModRevision: ev.Kv.ModRevision}
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
