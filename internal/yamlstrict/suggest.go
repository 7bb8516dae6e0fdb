package yamlstrict

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// unknownKey words the error for a key the struct does not have: the
// known keys close to it, or all of them when none is close.
func unknownKey(key, path string, known []string) string {
	where := path
	if where == "" {
		where = "the top level"
	}
	var close []string
	for _, k := range known {
		if Similar(key, k) {
			close = append(close, strconv.Quote(k))
		}
	}
	if len(close) > 0 {
		return fmt.Sprintf("unknown key %q in %s; did you mean %s?", key, where, strings.Join(close, " or "))
	}
	return fmt.Sprintf("unknown key %q in %s; allowed keys are %s", key, where, strings.Join(slices.Sorted(slices.Values(known)), ", "))
}

// Similar reports whether a is a likely misspelling of b: a small edit
// distance, a different case or separator, or one a prefix of the other.
func Similar(a, b string) bool {
	na := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(a))
	nb := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(b))
	if na == nb {
		return true
	}
	if len(na) >= 3 && len(nb) >= 3 && (strings.HasPrefix(na, nb) || strings.HasPrefix(nb, na)) {
		return true
	}
	limit := 1
	if len(b) >= 5 {
		limit = 2
	}
	if len(b) >= 12 {
		limit = 3
	}
	return editDistance(na, nb) <= limit
}

// editDistance is the Levenshtein distance, with adjacent transpositions
// counting as one edit.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
