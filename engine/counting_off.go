//go:build nocounting

package engine

// counting: see counting.go. This build counts no traffic.
const counting = false
