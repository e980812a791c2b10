//go:build nocounting

package engine

// counting: see counting.go. This build counts nothing.
const counting = false
