// Package resultlines reads the result files the load generator's lines
// go to (results.jsonl), for `loadgen table` and bench/charts alike: one
// JSON object a line, and other lines (a log's, a shell's) skipped.
package resultlines

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Read decodes each line of the file name that starts with "{" (white
// space aside) into a new T and hands it to add, in file order. A line
// that does not decode is an error naming the file and line.
func Read[T any](name string, add func(T)) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20) // a line with a latency histogram runs to kilobytes
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "{") {
			continue
		}
		var r T
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			return fmt.Errorf("%s:%d: not a load generator result line: %v", name, line, err)
		}
		add(r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}
