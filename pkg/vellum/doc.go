// Package vellum is a Go client for Vellum's native REST API: documents,
// envelopes and their recipients, the signer API behind a signUrl, webhook
// endpoints and their deliveries, API keys, and persons with their
// long-lived certificates.
//
// One [Client] holds the base URL, the API key and the *http.Client; it has
// no global state and is safe for concurrent use. Every call takes a
// [context.Context] first and honours its deadline, including while waiting
// to retry.
//
// Failed calls return an [*Error] carrying the server's RFC 9457 problem
// document (code, traceId, invalidParams); use [errors.As] to reach it.
//
// Every POST gets an Idempotency-Key (a random one unless the caller sets
// it with [WithIdempotencyKey]), so a POST refused with 429 or 503, or whose
// Idempotency-Key is still being processed, is retried with the same key
// and the same bytes, after the server's Retry-After, a bounded number of
// times. GETs are retried the same way.
//
// List methods return an [iter.Seq2] that walks every page with the API's
// offset/limit convention:
//
//	for env, err := range client.Envelopes.List(ctx, &vellum.EnvelopeListParams{Status: []vellum.EnvelopeStatus{vellum.EnvelopeSent}}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(env.ID, env.Subject)
//	}
//
// The types are written by hand rather than generated, so that they read
// as Go (time.Time, pointers only where the API sends null, named enums);
// a test checks every one of them against openapi/openapi.yaml, field by
// field and at every depth, so the two cannot drift apart.
package vellum
