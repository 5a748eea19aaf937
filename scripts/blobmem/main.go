// Command blobmem streams a large generated body through blob.Store into an
// FSStore or an S3Store, reads it back, checks its SHA-256 and prints the
// process's peak resident memory and the throughput. It backs the memory
// claim in the README: storing a 200 MiB upload stays under 100 MB RSS.
// scripts/blob-memory.sh runs it against both stores.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/vellum-sign/vellum/internal/blob"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "blobmem:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kind         = flag.String("store", "fs", "store to measure: fs or s3")
		size         = flag.Int64("size", 200<<20, "bytes to stream")
		dir          = flag.String("dir", "", "fs: store directory (default: a new temporary directory)")
		cfg          blob.S3Config
		createBucket = flag.Bool("create-bucket", false, "s3: create the bucket first")
	)
	flag.StringVar(&cfg.Endpoint, "s3-endpoint", "", "s3: endpoint URL")
	flag.StringVar(&cfg.Bucket, "s3-bucket", "vellum-blobmem", "s3: bucket")
	flag.StringVar(&cfg.AccessKeyID, "s3-access-key", "", "s3: access key id")
	flag.StringVar(&cfg.SecretAccessKey, "s3-secret-key", "", "s3: secret access key")
	flag.Parse()
	ctx := context.Background()
	if *kind == "fs" && *dir == "" {
		tmp, err := os.MkdirTemp("", "blobmem-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}

	store, err := openStore(ctx, *kind, *dir, cfg, *createBucket)
	if err != nil {
		return err
	}
	const key = "blobmem/upload.bin"

	putHash := sha256.New()
	start := time.Now()
	obj, err := store.Put(ctx, key, io.TeeReader(generated(*size), putHash), "application/octet-stream")
	if err != nil {
		return err
	}
	putTime := time.Since(start)
	if obj.Size != *size {
		return fmt.Errorf("stored %d bytes, want %d", obj.Size, *size)
	}

	start = time.Now()
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	getHash := sha256.New()
	_, err = io.Copy(getHash, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	getTime := time.Since(start)
	if !bytes.Equal(putHash.Sum(nil), getHash.Sum(nil)) {
		return errors.New("SHA-256 of the stored object differs from the uploaded body")
	}
	if err := store.Delete(ctx, key); err != nil {
		return err
	}

	hwm, err := procStatus("VmHWM")
	if err != nil {
		return err
	}
	mb := float64(*size) / 1e6
	fmt.Printf("store=%s size=%d sha256=%x match=ok put=%.2fs (%.0f MB/s) get=%.2fs (%.0f MB/s) peak_rss=%s\n",
		*kind, *size, putHash.Sum(nil)[:8], putTime.Seconds(), mb/putTime.Seconds(),
		getTime.Seconds(), mb/getTime.Seconds(), hwm)
	return nil
}

func openStore(ctx context.Context, kind, dir string, cfg blob.S3Config, createBucket bool) (blob.Store, error) {
	switch kind {
	case "fs":
		return blob.NewFSStore(dir)
	case "s3":
		cfg.UsePathStyle = true
		if createBucket {
			if err := makeBucket(ctx, cfg); err != nil {
				return nil, err
			}
		}
		return blob.NewS3Store(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown -store %q (want fs or s3)", kind)
}

func makeBucket(ctx context.Context, cfg blob.S3Config) error {
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
	})
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &cfg.Bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
	}
	return nil
}

// generated yields n pseudo-random bytes without holding them in memory.
func generated(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{42}), n)
}

// procStatus reads a field of /proc/self/status, e.g. VmHWM (peak RSS).
func procStatus(field string) (string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "", fmt.Errorf("read peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("read peak RSS: no %s in /proc/self/status", field)
}
