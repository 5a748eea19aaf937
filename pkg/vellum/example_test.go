package vellum_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/vellum-sign/vellum/pkg/vellum"
)

// The Certyneo quickstart: upload a PDF, send it for signature, and
// download the signed result once the signer has signed.
func Example() {
	ctx := context.Background()
	client, err := vellum.NewClient(
		vellum.WithBaseURL(os.Getenv("VELLUM_URL")), // e.g. http://127.0.0.1:8080 for `vellum dev`
		vellum.WithAPIKey(os.Getenv("VELLUM_API_KEY")),
		vellum.WithUserAgent("acme-crm/2.3"),
	)
	if err != nil {
		log.Fatal(err)
	}

	f, err := os.Open("contrat.pdf")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	doc, err := client.Documents.Upload(ctx, f, &vellum.UploadParams{Filename: "contrat.pdf"})
	if err != nil {
		log.Fatal(err)
	}

	env, err := client.Envelopes.Create(ctx, &vellum.EnvelopeRequest{
		Subject:     "Contrat de prestation",
		DocumentIDs: []string{doc.ID},
		Recipients:  []vellum.RecipientRequest{{Email: "client@example.com", Name: "Marie Dubois", Role: vellum.RoleSigner}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if env, err = client.Envelopes.Send(ctx, env.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sign at", env.Recipients[0].SignURL)

	// Webhooks (envelope.completed) are the better signal; polling works too.
	for !env.Status.Final() {
		time.Sleep(2 * time.Second)
		if env, err = client.Envelopes.Get(ctx, env.ID); err != nil {
			log.Fatal(err)
		}
	}
	if env.Status != vellum.EnvelopeCompleted {
		log.Fatalf("envelope ended %s", env.Status)
	}
	signed, err := client.Envelopes.DownloadSigned(ctx, env.ID, "")
	if err != nil {
		log.Fatal(err)
	}
	out, err := os.Create("signed.pdf")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := signed.WriteTo(out); err != nil {
		log.Fatal(err)
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
}

// Problems come back as *vellum.Error with the server's code, traceId and
// every invalid field.
func ExampleError() {
	ctx := context.Background()
	client, err := vellum.NewClient(vellum.WithAPIKey(os.Getenv("VELLUM_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.Envelopes.Create(ctx, &vellum.EnvelopeRequest{Subject: "no documents"})
	var apiErr *vellum.Error
	if errors.As(err, &apiErr) {
		for _, p := range apiErr.InvalidParams {
			fmt.Printf("%s: %s\n", p.Name, p.Reason)
		}
		fmt.Println("trace id:", apiErr.TraceID)
	}
}

// Lists are iterators that fetch the next page only when the loop needs it.
func ExampleEnvelopeService_List() {
	ctx := context.Background()
	client, err := vellum.NewClient(vellum.WithAPIKey(os.Getenv("VELLUM_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	params := &vellum.EnvelopeListParams{
		ListParams: vellum.ListParams{PageSize: 500, Sort: []string{"createdAt"}},
		Status:     []vellum.EnvelopeStatus{vellum.EnvelopeSent},
	}
	for env, err := range client.Envelopes.List(ctx, params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(env.ID, env.Subject)
	}
}

// A key chosen by the caller makes a POST safe to repeat even after the
// caller itself crashed: the server answers the repeat with the first
// response.
func ExampleWithIdempotencyKey() {
	client, err := vellum.NewClient(vellum.WithAPIKey(os.Getenv("VELLUM_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	ctx := vellum.WithIdempotencyKey(context.Background(), "send-order-4711")
	if _, err := client.Envelopes.Send(ctx, "env_0123456789abcdef0123456789abcdef"); err != nil {
		log.Fatal(err)
	}
}

func ExampleTokenFromSignURL() {
	token, err := vellum.TokenFromSignURL("https://sign.example.com/s/3q2-7wQx9kVb")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(token)
	// Output: 3q2-7wQx9kVb
}

func ExampleError_Error() {
	err := &vellum.Error{Status: 400, Code: "validation_failed", Detail: "the request has invalid fields", TraceID: "01a2",
		InvalidParams: []vellum.InvalidParam{{Name: "recipients[0].email", Reason: "must be an e-mail address"}}}
	fmt.Println(err)
	// Output: vellum: 400 validation_failed: the request has invalid fields (recipients[0].email: must be an e-mail address) [trace 01a2]
}
