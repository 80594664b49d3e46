package cluster

import (
	"fmt"
	"testing"
)

func TestRendezvousMovesOnlyTheLeaversShare(t *testing.T) {
	three := []Member{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	two := []Member{{ID: "a"}, {ID: "c"}}
	counts := map[string]int{}
	for i := range 3000 {
		key := fmt.Sprintf("http://example.com/obj/%d", i)
		before, after := three[Rendezvous(three, key)].ID, two[Rendezvous(two, key)].ID
		counts[before]++
		if before != "b" && before != after {
			t.Fatalf("%s moved from %s to %s though %s stayed", key, before, after, before)
		}
	}
	for id, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("member %s owns %d of 3000 keys", id, n)
		}
	}
}
