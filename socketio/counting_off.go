//go:build nocounting

package socketio

// counting: see counting.go. This build counts no broadcasts, connects or disconnects.
const counting = false
