package httpapi

import "time"

// SetBodyGrace shortens the body deadline's grace for a test and returns
// the restore function.
func SetBodyGrace(d time.Duration) func() {
	old := bodyGrace
	bodyGrace = d
	return func() { bodyGrace = old }
}
