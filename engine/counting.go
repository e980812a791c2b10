//go:build !nocounting

package engine

// counting is true but in builds with the nocounting tag, whose servers
// count no traffic (received and sent return at once; their totals stay
// zero): a build to measure what the counting costs against, nothing to
// run. With the constant true the test compiles away.
const counting = true
