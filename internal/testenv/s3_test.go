package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestStartS3_ServesItsBucketUntilClosed(t *testing.T) {
	ctx := context.Background()
	srv, err := StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.New(s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.SecretAccessKey, ""),
	})
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &srv.Bucket}); err != nil {
		t.Fatalf("bucket %s not usable: %v", srv.Bucket, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	hc := &http.Client{Timeout: time.Second}
	if resp, err := hc.Get(srv.Endpoint + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("server still answers on %s after Close", srv.Endpoint)
	}
}

func TestStartS3_RunsServersSideBySide(t *testing.T) {
	ctx := context.Background()
	a, err := StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Endpoint == b.Endpoint {
		t.Fatalf("both servers on %s", a.Endpoint)
	}
}
