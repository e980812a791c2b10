package cors

import (
	"net/http"
	"strings"
)

// addVary appends field to the Vary header the way the npm `vary` package
// (which npm cors uses) does: the existing values are joined into one line,
// a field already present in any letter case is not repeated, and a Vary of
// "*" stays "*".
func addVary(h http.Header, field string) {
	values := h.Values("Vary")
	if len(values) == 0 {
		h.Set("Vary", field)
		return
	}
	current := strings.Join(values, ", ")
	for v := range strings.SplitSeq(current, ",") {
		v = strings.TrimSpace(v)
		if v == "*" {
			h.Set("Vary", "*")
			return
		}
		if strings.EqualFold(v, field) {
			if len(values) > 1 {
				h.Set("Vary", current)
			}
			return
		}
	}
	if strings.TrimSpace(current) == "" {
		h.Set("Vary", field)
		return
	}
	h.Set("Vary", current+", "+field)
}
