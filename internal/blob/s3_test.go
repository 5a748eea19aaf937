package blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/testenv"
)

// One versitygw serves the whole package, started on first use; each store
// gets its own key prefix so parallel tests never see each other's objects.
var (
	s3Once   sync.Once
	s3Server *testenv.S3Server
	s3Err    error
	s3Seq    atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if s3Server != nil {
		if err := s3Server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

func s3Config(t *testing.T) blob.S3Config {
	t.Helper()
	s3Once.Do(func() { s3Server, s3Err = testenv.StartS3(context.Background()) })
	if s3Err != nil {
		t.Fatalf("S3 server for tests: %v", s3Err)
	}
	cfg := s3Server.BlobConfig()
	cfg.Prefix = fmt.Sprintf("t%d/", s3Seq.Add(1))
	cfg.PartSize = 5 << 20 // S3's minimum, so 20 MB spans four parts
	return cfg
}

func newS3Store(t *testing.T, cfg blob.S3Config) *blob.S3Store {
	t.Helper()
	s, err := blob.NewS3Store(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Store_Contract(t *testing.T) {
	runContract(t, func(t *testing.T) blob.Store { return newS3Store(t, s3Config(t)) })
}

func TestS3Store_PrefixSeparatesStores(t *testing.T) {
	a, b := newS3Store(t, s3Config(t)), newS3Store(t, s3Config(t))
	mustPut(t, a, "k", "in a", "")
	if _, err := b.Stat(context.Background(), "k"); err == nil {
		t.Fatal("store b sees store a's object")
	}
}

func TestS3Store_PingFailsForMissingBucket(t *testing.T) {
	cfg := s3Config(t)
	cfg.Bucket = "no-such-bucket"
	if err := newS3Store(t, cfg).Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded for a missing bucket")
	}
}

func TestS3Store_PingFailsForWrongCredentials(t *testing.T) {
	cfg := s3Config(t)
	cfg.SecretAccessKey = "wrong"
	if err := newS3Store(t, cfg).Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with a wrong secret")
	}
}

func TestNewS3Store_RejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]blob.S3Config{
		"no bucket":        {Endpoint: "http://127.0.0.1:1"},
		"part below 5 MiB": {Bucket: "b", PartSize: 1 << 20},
	} {
		if _, err := blob.NewS3Store(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestS3Store_FailedMultipartUploadIsAborted(t *testing.T) {
	cfg := s3Config(t)
	s := newS3Store(t, cfg)
	r := io.MultiReader(generated(12<<20, 3), failingReader{})
	if _, err := s.Put(context.Background(), "aborted", r, ""); !errors.Is(err, errRead) {
		t.Fatalf("Put with failing reader: %v, want %v", err, errRead)
	}
	client := s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
	})
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: &cfg.Bucket, Prefix: &cfg.Prefix,
	})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("upload %s of %s left open", aws.ToString(u.UploadId), aws.ToString(u.Key))
	}
}
