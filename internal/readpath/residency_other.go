//go:build !linux

package readpath

// checkerFor returns nil: this build has no residency check, so the feature test settles
// on MethodNone and every range goes straight to the writer.
func checkerFor(Method) checkFunc { return nil }
