package solve

import (
	"strconv"
	"testing"
)

func TestIDTable(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 100, 5000} {
		keys := make([]string, 0, n)
		key := func(id int32) string { return keys[id] }
		tab := newIDTable(n)
		for i := range n {
			s := "k" + strconv.Itoa(i)
			if _, _, ok := tab.find(s, key); ok {
				t.Fatalf("n=%d: %q found before it was added", n, s)
			}
			_, slot, _ := tab.find(s, key)
			tab.add(slot, int32(len(keys)))
			keys = append(keys, s)
		}
		for i, s := range keys {
			if id, _, ok := tab.find(s, key); !ok || id != int32(i) {
				t.Errorf("n=%d: find(%q) = %d, %v; want %d", n, s, id, ok, i)
			}
		}
		for _, s := range []string{"", "k", "x1", "k" + strconv.Itoa(n)} {
			if id, _, ok := tab.find(s, key); ok {
				t.Errorf("n=%d: find(%q) = %d, want not found", n, s, id)
			}
		}
	}
}

func TestIDTableFull(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("adding past the bound did not panic")
		}
	}()
	tab := newIDTable(1)
	for i := range len(tab.slots) {
		tab.add(i, int32(i))
	}
}
