// Command bench-envelopes measures the envelope workflow end to end against
// a running Vellum (API and worker): N envelopes of one document and two
// parallel signers are created, sent, signed through the signer API and
// waited for until COMPLETED. It prints envelopes completed per minute and
// the p50/p99 latency of the create and sign calls.
//
//	go run ./scripts/bench-envelopes -url http://127.0.0.1:8080 -key sk_test_… -n 50 -c 4
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vellum-sign/vellum/internal/pdfreport"
)

func main() {
	base := flag.String("url", envOr("VELLUM_BASE_URL", "http://127.0.0.1:8080"), "Vellum base URL")
	key := flag.String("key", os.Getenv("VELLUM_API_KEY"), "test API key")
	n := flag.Int("n", 50, "envelopes")
	conc := flag.Int("c", 4, "envelopes in flight at once")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	if *key == "" {
		fmt.Fprintln(os.Stderr, "set -key or VELLUM_API_KEY")
		os.Exit(2)
	}
	b := &bench{base: strings.TrimRight(*base, "/"), key: *key, hc: &http.Client{Timeout: time.Minute}}
	doc := pdfreport.New("Benchmark contract")
	doc.Title("Benchmark contract")
	for i := 0; i < 40; i++ {
		doc.Para("The parties agree to the terms set out in this benchmark document.")
	}
	pdf, err := doc.Bytes()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	start := time.Now()
	deadline := start.Add(*timeout)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var creates, signs []time.Duration
	var completed, failed int
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c, s, err := b.one(i, pdf, deadline)
				mu.Lock()
				creates = append(creates, c)
				signs = append(signs, s...)
				if err != nil {
					failed++
					fmt.Fprintf(os.Stderr, "envelope %d: %v\n", i, err)
				} else {
					completed++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < *n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("envelopes: %d completed, %d failed in %s (concurrency %d)\n", completed, failed, elapsed.Round(time.Millisecond), *conc)
	fmt.Printf("throughput: %.1f envelopes completed per minute\n", float64(completed)/elapsed.Minutes())
	fmt.Printf("create: p50 %s  p99 %s  (n=%d)\n", pct(creates, 50), pct(creates, 99), len(creates))
	fmt.Printf("sign:   p50 %s  p99 %s  (n=%d)\n", pct(signs, 50), pct(signs, 99), len(signs))
	if failed > 0 {
		os.Exit(1)
	}
}

type bench struct {
	base, key string
	hc        *http.Client
}

// one runs an envelope's whole life and returns the create latency and the
// two sign latencies.
func (b *bench) one(i int, pdf []byte, deadline time.Time) (time.Duration, []time.Duration, error) {
	docID, err := b.upload(pdf)
	if err != nil {
		return 0, nil, err
	}
	body := map[string]any{
		"subject": fmt.Sprintf("Benchmark %d", i), "documentIds": []string{docID},
		"recipients": []map[string]any{
			{"email": fmt.Sprintf("a%d@bench.test", i), "name": "Signer A", "role": "SIGNER"},
			{"email": fmt.Sprintf("b%d@bench.test", i), "name": "Signer B", "role": "SIGNER"},
		},
	}
	t0 := time.Now()
	var env struct{ ID string }
	if err := b.call(http.MethodPost, "/api/v1/envelopes", b.key, body, http.StatusCreated, &env); err != nil {
		return 0, nil, fmt.Errorf("create: %w", err)
	}
	create := time.Since(t0)
	var sent struct {
		Recipients []struct {
			SignURL string `json:"signUrl"`
		}
	}
	if err := b.call(http.MethodPost, "/api/v1/envelopes/"+env.ID+"/send", b.key, nil, http.StatusOK, &sent); err != nil {
		return create, nil, fmt.Errorf("send: %w", err)
	}
	var signs []time.Duration
	for _, r := range sent.Recipients {
		tok := r.SignURL[strings.LastIndex(r.SignURL, "/s/")+3:]
		t1 := time.Now()
		err := b.call(http.MethodPost, "/api/v1/signer/"+tok+"/sign", "", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": "Signer"}}, http.StatusOK, nil)
		if err != nil {
			return create, signs, fmt.Errorf("sign: %w", err)
		}
		signs = append(signs, time.Since(t1))
	}
	for time.Now().Before(deadline) {
		var st struct{ Status string }
		if err := b.call(http.MethodGet, "/api/v1/envelopes/"+env.ID, b.key, nil, http.StatusOK, &st); err != nil {
			return create, signs, err
		}
		if st.Status == "COMPLETED" {
			return create, signs, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return create, signs, fmt.Errorf("envelope %s not completed before the timeout", env.ID)
}

func (b *bench) upload(pdf []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "contract.pdf")
	fw.Write(pdf)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/api/v1/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+b.key)
	var d struct{ ID string }
	return d.ID, b.send(req, http.StatusCreated, &d)
}

func (b *bench) call(method, path, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return b.send(req, want, out)
}

func (b *bench) send(req *http.Request, want int, out any) error {
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %.300s", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1].Round(100 * time.Microsecond)
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
