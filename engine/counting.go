//go:build !nocounting

package engine

// counting is true but in builds with the nocounting tag, whose servers
// count nothing (received, sent, the handshake, opened, upgraded and
// closed counts return at once; their totals stay zero): a build to
// measure what the counting costs against (bench/instructions.sh), nothing
// to run. With the constant true the test compiles away.
const counting = true
