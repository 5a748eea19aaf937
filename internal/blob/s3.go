package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Config configures an S3Store. Zero values of the tuning fields mean the
// defaults below.
type S3Config struct {
	// Endpoint is the base URL of an S3-compatible server
	// ("http://127.0.0.1:7070"); empty means AWS S3 itself.
	Endpoint string
	// Region signs requests; empty means "us-east-1", which S3-compatible
	// servers accept.
	Region string
	Bucket string
	// AccessKeyID and SecretAccessKey are static credentials; when empty the
	// SDK's default chain (environment, web identity, instance role) is used.
	AccessKeyID     string
	SecretAccessKey string
	// UsePathStyle addresses the bucket in the path rather than the host
	// name, as most self-hosted S3 servers need.
	UsePathStyle bool
	// Prefix is prepended to every key, to share a bucket ("vellum/").
	Prefix string

	// PartSize is the multipart chunk size (default 8 MiB, minimum 5 MiB).
	// Up to Concurrency+1 parts are in memory per upload.
	PartSize int64
	// Concurrency is the number of parts uploaded at once (default 2).
	Concurrency int
	// RequestTimeout bounds each request: a metadata call, one part upload,
	// or the wait for a download's response headers (default 60 s). A whole
	// upload or download may take longer.
	RequestTimeout time.Duration
}

const (
	defaultPartSize       = 8 << 20
	minPartSize           = 5 << 20 // S3's minimum for all but the last part
	maxParts              = 10000   // S3's limit per multipart upload
	defaultConcurrency    = 2
	defaultRequestTimeout = 60 * time.Second
)

// S3Store keeps objects in an S3 bucket. Uploads of unknown size are sent in
// bounded parts, so memory per upload is (Concurrency+1) × PartSize whatever
// the object's size.
type S3Store struct {
	client      *s3.Client
	bucket      string
	prefix      string
	partSize    int64
	concurrency int
	timeout     time.Duration
	parts       sync.Pool // of *[]byte, len partSize
}

var _ Store = (*S3Store)(nil)

// NewS3Store builds a client from cfg. It does not contact the server; call
// Ping for that.
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: s3 store: bucket is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = defaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("blob: s3 store: part size %d is below S3's minimum of %d bytes", cfg.PartSize, minPartSize)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		// Only send and check the newer CRC checksums where S3 demands them:
		// several S3-compatible servers reject or mangle them, and SigV4
		// already covers each request body.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 store: load aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle
	})
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	s := &S3Store{
		client:      client,
		bucket:      cfg.Bucket,
		prefix:      prefix,
		partSize:    cfg.PartSize,
		concurrency: cfg.Concurrency,
		timeout:     cfg.RequestTimeout,
	}
	s.parts.New = func() any {
		b := make([]byte, s.partSize)
		return &b
	}
	return s, nil
}

// Get streams the object's body. The request timeout covers only the wait
// for the response headers, since reading a large body may take longer.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Object{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(s.timeout, cancel)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: s.objectKey(key)})
	if !timer.Stop() {
		// The timer fired: the context is cancelled, so the body is unusable.
		if err == nil {
			out.Body.Close()
		}
		cancel()
		return nil, Object{}, fmt.Errorf("blob: get %q: no response within %s: %w", key, s.timeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, Object{}, s3Error("get", key, err)
	}
	obj := Object{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: contentTypeOr(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified).UTC(),
	}
	return &cancelOnClose{ReadCloser: out.Body, cancel: cancel}, obj, nil
}

// Stat issues a HEAD request for the object.
func (s *S3Store) Stat(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.objectKey(key)})
	if err != nil {
		return Object{}, s3Error("stat", key, err)
	}
	return Object{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: contentTypeOr(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified).UTC(),
	}, nil
}

// Delete removes the object; AWS S3 itself answers success for a missing key.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: s.objectKey(key)})
	if err == nil {
		return nil
	}
	// Some S3-compatible servers do answer NoSuchKey; that is success here.
	if err := s3Error("delete", key, err); !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Ping checks that the bucket exists and the credentials may use it.
func (s *S3Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("blob: ping s3 bucket %q: %w", s.bucket, err)
	}
	return nil
}

func (s *S3Store) objectKey(key string) *string {
	return aws.String(s.prefix + key)
}

// s3Error wraps err, mapping S3's "no such key" answers to ErrNotFound. A HEAD
// response has no body, so a missing bucket also reads "NotFound" there;
// Ping tells the two apart.
func s3Error(op, key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("blob: %s %q: %w", op, key, ErrNotFound)
		}
	}
	return fmt.Errorf("blob: %s %q: %w", op, key, err)
}

func contentTypeOr(ct *string) string {
	if ct == nil || *ct == "" {
		return defaultContentType
	}
	return *ct
}

// cancelOnClose releases a download's context when the caller closes it.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
