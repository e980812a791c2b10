//go:build !nocounting

package socketio

// counting is true but in builds with the nocounting tag, whose servers
// count no broadcasts, connects or disconnects (those methods return at
// once; the totals stay zero): a build to measure what the counting costs
// against (bench/instructions.sh), nothing to run.
// With the constant true the test compiles away.
const counting = true
