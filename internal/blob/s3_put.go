package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// Put reads the first part; a body that fits in it goes up in one PutObject,
// anything larger as a multipart upload. Either way S3 makes the object
// visible only when complete. A PutObject carries its Content-Length (and
// the SDK's checksum), so S3 stores exactly those bytes or fails it; the
// size of a multipart upload's result is checked with a HEAD before Put
// reports success. (A HEAD after every small put was one S3 request in
// three of an envelope's.)
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, contentType string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, err
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	r = ctxReader{ctx, r}
	buf := s.parts.Get().(*[]byte)
	n, err := io.ReadFull(r, *buf)
	var size int64
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		err = s.putSingle(ctx, key, (*buf)[:n], contentType)
		s.parts.Put(buf)
		if err != nil {
			return Object{}, err
		}
		return Object{Key: key, Size: int64(n), ContentType: contentType, ModTime: time.Now().UTC()}, nil
	case err != nil:
		s.parts.Put(buf)
		return Object{}, fmt.Errorf("blob: put %q: read body: %w", key, err)
	default:
		size, err = s.putMultipart(ctx, key, r, contentType, buf)
	}
	if err != nil {
		return Object{}, err
	}
	obj, err := s.Stat(ctx, key)
	if err != nil {
		return Object{}, err
	}
	if obj.Size != size {
		return Object{}, fmt.Errorf("blob: put %q: stored %d bytes, sent %d", key, obj.Size, size)
	}
	return obj, nil
}

func (s *S3Store) putSingle(ctx context.Context, key string, data []byte, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           s.objectKey(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   &contentType,
	})
	if err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	return nil
}

// putMultipart uploads first and the rest of r as parts, aborting the upload
// on any failure so no orphaned parts keep costing storage.
func (s *S3Store) putMultipart(ctx context.Context, key string, r io.Reader, contentType string, first *[]byte) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	created, err := s.client.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{
		Bucket:      &s.bucket,
		Key:         s.objectKey(key),
		ContentType: &contentType,
	})
	cancel()
	if err != nil {
		s.parts.Put(first)
		return 0, fmt.Errorf("blob: put %q: start multipart upload: %w", key, err)
	}
	parts, size, err := s.uploadParts(ctx, key, created.UploadId, r, first)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		_, err = s.client.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
			Bucket:          &s.bucket,
			Key:             s.objectKey(key),
			UploadId:        created.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		cancel()
		if err != nil {
			err = fmt.Errorf("blob: put %q: complete multipart upload: %w", key, err)
		}
	}
	if err != nil {
		// Abort even when ctx is what failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: s.objectKey(key), UploadId: created.UploadId,
		}); aerr != nil {
			err = errors.Join(err, fmt.Errorf("blob: put %q: abort multipart upload: %w", key, aerr))
		}
		return 0, err
	}
	return size, nil
}

// uploadParts reads r part by part while up to s.concurrency earlier parts
// are in flight, so at most concurrency+1 part buffers are in use.
func (s *S3Store) uploadParts(ctx context.Context, key string, uploadID *string, r io.Reader, buf *[]byte) ([]types.CompletedPart, int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		size  int64
		n     = len(*buf)
		last  bool
	)
	for num := int32(1); ; num++ {
		if num > maxParts {
			s.parts.Put(buf)
			g.Wait()
			return nil, 0, fmt.Errorf("blob: put %q: larger than %d parts of %d bytes", key, maxParts, s.partSize)
		}
		size += int64(n)
		part, data := buf, (*buf)[:n]
		g.Go(func() error {
			defer s.parts.Put(part)
			pctx, cancel := context.WithTimeout(gctx, s.timeout)
			defer cancel()
			out, err := s.client.UploadPart(pctx, &s3.UploadPartInput{
				Bucket:        &s.bucket,
				Key:           s.objectKey(key),
				UploadId:      uploadID,
				PartNumber:    aws.Int32(num),
				Body:          bytes.NewReader(data),
				ContentLength: aws.Int64(int64(len(data))),
			})
			if err != nil {
				return fmt.Errorf("blob: put %q: upload part %d: %w", key, num, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			mu.Unlock()
			return nil
		})
		if last || gctx.Err() != nil {
			break
		}
		buf = s.parts.Get().(*[]byte)
		var err error
		n, err = io.ReadFull(r, *buf)
		if err == io.EOF {
			s.parts.Put(buf)
			break
		}
		if err == io.ErrUnexpectedEOF {
			last = true
		} else if err != nil {
			s.parts.Put(buf)
			g.Wait()
			return nil, 0, fmt.Errorf("blob: put %q: read body: %w", key, err)
		}
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	// The context may have ended between parts without any part failing.
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("blob: put %q: %w", key, err)
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int {
		return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber))
	})
	return parts, size, nil
}
