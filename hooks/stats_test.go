package hooks

import (
	"maps"
	"testing"
)

// outcomes are the non-zero outcome counts of hook k, by name.
func outcomes(h *Hooks, k Kind) map[string]uint64 {
	out := map[string]uint64{}
	for o, n := range h.Stats().Snapshot().Hooks[k].Outcomes {
		if n > 0 {
			out[Outcomes[o]] = n
		}
	}
	return out
}

func expectOutcomes(t *testing.T, h *Hooks, k Kind, want map[string]uint64) {
	t.Helper()
	if got := outcomes(h, k); !maps.Equal(got, want) {
		t.Errorf("%s hook outcomes %v, want %v", Kinds[k], got, want)
	}
}

// Every outcome a hook can have is possible for some hook, and the ones
// that cannot happen are exactly those the doc names.
func TestPossibleOutcomes(t *testing.T) {
	impossible := map[string]bool{}
	for k := range Kinds {
		for o := range Outcomes {
			if !Kind(k).Possible(Outcome(o)) {
				impossible[Kinds[k]+" "+Outcomes[o]] = true
			}
		}
	}
	want := map[string]bool{
		"event refused": true, "notify refused": true,
		"connect queue_full": true, "notify queue_full": true,
		"notify bad_answer": true,
	}
	if !maps.Equal(impossible, want) {
		t.Errorf("impossible outcomes %v, want %v", impossible, want)
	}
}
