package edge

import (
	"testing"

	"meridian/internal/store"
)

// TestConfigCopyFollowsEvents: the edge's copy of the configuration takes puts and
// deletes of resources and endpoints from watch events, and ignores other keys.
func TestConfigCopyFollowsEvents(t *testing.T) {
	var c configCopy
	c.reset([][]store.KV{{{Key: "res/a", Value: []byte("1")}, {Key: "res/b", Value: []byte("2")}},
		{{Key: "endpoints/regions/r/namespaces/p/services/s", Value: []byte(`{"url":"http://x:1","healthy":true}`)}},
		{{Key: "acme/challenges/http-01/t1", Value: []byte("t1.key")}}})
	const (
		put, del = false, true
	)
	ev := func(deleted bool, key, value string) store.Event {
		return store.Event{Key: key, Value: []byte(value), Deleted: deleted}
	}
	if config, challenges := c.update([]store.Event{ev(put, "members/e1", "x"), ev(put, "acks/e1", "y")}); config || challenges {
		t.Error("keys other than resources, endpoints and challenges changed the configuration")
	}
	if config, challenges := c.update([]store.Event{ev(put, "acme/challenges/http-01/t2", "t2.key"), ev(del, "acme/challenges/http-01/t1", "")}); config || !challenges {
		t.Errorf("a challenge answer: configuration changed %v, challenges %v", config, challenges)
	}
	if set := challengesOf(c.acme); len(set.http01) != 1 || set.http01["t2"] != "t2.key" {
		t.Errorf("challenges %v", set.http01)
	}
	changed, _ := c.update([]store.Event{
		ev(put, "res/a", "3"), ev(del, "res/b", ""), ev(put, "res/c", "4"),
		ev(put, "endpoints/regions/r/namespaces/p/services/t", `{"url":"http://y:2"}`),
		ev(del, "endpoints/regions/r/namespaces/p/services/s", ""),
	})
	if !changed {
		t.Fatal("resource events reported no change")
	}
	if len(c.res) != 2 || string(c.res["a"]) != "3" || string(c.res["c"]) != "4" {
		t.Errorf("resources %q", c.res)
	}
	eps := c.endpoints()
	if len(eps) != 1 || eps["r/p/t"].URL != "http://y:2" || eps["r/p/t"].Healthy {
		t.Errorf("endpoints %+v", eps)
	}
}
