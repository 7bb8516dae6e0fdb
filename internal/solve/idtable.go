package solve

import "hash/maphash"

// idTable maps strings to ids, the indexes of the strings in a slice the
// caller keeps (names, packages, ...): an open-addressing hash table with
// linear probing whose slots hold only the id. For the names of a large
// index it takes a third of the memory of a map[string]int32, which stores
// every key again, and building an Index is dominated by first touches of
// fresh memory (see Index).
//
// The table does not grow: it is made for a known bound on the number of
// ids, and holds at most half as many ids as it has slots.
type idTable struct {
	seed  maphash.Seed
	slots []int32 // id+1, or 0 for an empty slot; the length is a power of two
	n     int     // ids added
}

// newIDTable returns a table for at most max ids.
func newIDTable(max int) idTable {
	size := 8
	for size < 2*max {
		size *= 2
	}
	return idTable{seed: maphash.MakeSeed(), slots: make([]int32, size)}
}

// find returns the id of s, where key returns the string of an id. If s
// is not in the table, ok is false and slot is where add would put it.
func (t *idTable) find(s string, key func(id int32) string) (id int32, slot int, ok bool) {
	mask := len(t.slots) - 1
	i := int(maphash.String(t.seed, s)) & mask
	for {
		v := t.slots[i]
		if v == 0 {
			return -1, i, false
		}
		if key(v-1) == s {
			return v - 1, i, true
		}
		i = (i + 1) & mask
	}
}

// add records id at slot, as returned by a find that did not find the
// string. It panics past the bound the table was made for.
func (t *idTable) add(slot int, id int32) {
	if 2*(t.n+1) > len(t.slots) {
		panic("solve: idTable is full")
	}
	t.slots[slot] = id + 1
	t.n++
}
