package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/testenv"
)

// BenchmarkGetDocument measures authenticated GET /api/v1/documents/{id}
// through the full router (authentication and last-used bookkeeping in
// PostgreSQL, the per-key rate limit in Redis), from parallel clients. It
// reports the latency percentiles beside ns/op (which is the inverse of
// throughput under parallelism).
func BenchmarkGetDocument(b *testing.B) {
	s := newServer(b, serverOptions{})
	tn := newTenant(b)
	d := upload(b, s, tn.test, "bench.pdf", fixture(b, "test.pdf"))
	url := s.URL + "/api/v1/documents/" + d.ID
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var all []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		lat := make([]time.Duration, 0, 1024)
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tn.test)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	reportPercentiles(b, all)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkUploadDocument_S3_50MB uploads a 50 MB PDF through the full
// router to versitygw (spool while hashing, pdfcpu validation, multipart S3
// upload). MB/s is the end-to-end rate.
func BenchmarkUploadDocument_S3_50MB(b *testing.B) {
	ctx := context.Background()
	srv, err := testenv.StartS3(ctx)
	if err != nil {
		b.Fatal("S3 server for the benchmark:", err)
	}
	defer srv.Close()
	store, err := blob.NewS3Store(ctx, srv.BlobConfig())
	if err != nil {
		b.Fatal(err)
	}
	s := newServer(b, serverOptions{blobs: store, maxSize: document.DefaultMaxSize})
	tn := newTenant(b)
	pdf := paddedPDF(50_000_000)
	client := &http.Client{Timeout: 5 * time.Minute}
	b.SetBytes(int64(len(pdf)))
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/documents?filename=big.pdf", bytes.NewReader(pdf))
		req.Header.Set("Authorization", "Bearer "+tn.test)
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	}
}
