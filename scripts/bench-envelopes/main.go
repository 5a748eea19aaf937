// Command bench-envelopes measures the envelope workflow end to end against
// a running Vellum (API and worker): N envelopes of one document and two
// parallel signers are created, sent, signed through the signer API and
// waited for until COMPLETED. It prints envelopes completed per minute and
// the p50/p99 latency of the create and sign calls.
//
// With -webhook (the default) it registers a webhook endpoint for every event
// type on a receiver of its own, waits for each envelope's envelope.completed
// message before reading the envelope (instead of polling it every 200 ms),
// and reports the
// deliveries by webhook-id: a message delivered twice is counted as a
// duplicate. With several base URLs (comma-separated, as benchstack sets
// VELLUM_BASE_URLS for more than one API process) envelope i goes to URL
// i mod n: creation, sending, signing and polling alike.
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
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/internal/testenv"
)

func main() {
	base := flag.String("url", envOr("VELLUM_BASE_URLS", envOr("VELLUM_BASE_URL", "http://127.0.0.1:8080")), "Vellum base URL(s), comma-separated")
	key := flag.String("key", os.Getenv("VELLUM_API_KEY"), "test API key")
	n := flag.Int("n", 50, "envelopes")
	conc := flag.Int("c", 4, "envelopes in flight at once")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	hooks := flag.Bool("webhook", true, "register a webhook endpoint for all events and check its deliveries")
	check := flag.Bool("check", false, "download each signed document and check one signature per signer")
	flag.Parse()
	if *key == "" {
		fmt.Fprintln(os.Stderr, "set -key or VELLUM_API_KEY")
		os.Exit(2)
	}
	b := &bench{key: *key, hc: &http.Client{Timeout: time.Minute}, check: *check}
	for _, u := range strings.Split(*base, ",") {
		b.bases = append(b.bases, strings.TrimRight(strings.TrimSpace(u), "/"))
	}
	if *hooks {
		var err error
		if b.recv, err = b.webhooks(); err != nil {
			fmt.Fprintln(os.Stderr, "webhook endpoint:", err)
			os.Exit(1)
		}
	}
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
	var done []string
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id, c, s, err := b.one(i, pdf, deadline)
				mu.Lock()
				creates = append(creates, c)
				signs = append(signs, s...)
				if err != nil {
					failed++
					fmt.Fprintf(os.Stderr, "envelope %d: %v\n", i, err)
				} else {
					completed++
					done = append(done, id)
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
	if b.recv != nil {
		if !b.recv.report(done, time.Until(deadline)+time.Minute) {
			failed++
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

type bench struct {
	bases []string
	key   string
	hc    *http.Client
	recv  *receiver // nil without -webhook
	check bool
}

// one runs envelope i's whole life through API i mod n and returns its id,
// the create latency and the two sign latencies.
func (b *bench) one(i int, pdf []byte, deadline time.Time) (string, time.Duration, []time.Duration, error) {
	base := b.bases[i%len(b.bases)]
	docID, err := b.upload(base, pdf)
	if err != nil {
		return "", 0, nil, err
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
	if err := b.call(http.MethodPost, base+"/api/v1/envelopes", b.key, body, http.StatusCreated, &env); err != nil {
		return "", 0, nil, fmt.Errorf("create: %w", err)
	}
	create := time.Since(t0)
	var sent struct {
		Recipients []struct {
			SignURL string `json:"signUrl"`
		}
	}
	if err := b.call(http.MethodPost, base+"/api/v1/envelopes/"+env.ID+"/send", b.key, nil, http.StatusOK, &sent); err != nil {
		return env.ID, create, nil, fmt.Errorf("send: %w", err)
	}
	var signs []time.Duration
	for _, r := range sent.Recipients {
		tok := r.SignURL[strings.LastIndex(r.SignURL, "/s/")+3:]
		t1 := time.Now()
		err := b.call(http.MethodPost, base+"/api/v1/signer/"+tok+"/sign", "", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": "Signer"}}, http.StatusOK, nil)
		if err != nil {
			return env.ID, create, signs, fmt.Errorf("sign: %w", err)
		}
		signs = append(signs, time.Since(t1))
	}
	if b.recv != nil {
		// As an integrator would: wait for the envelope.completed webhook,
		// then read the envelope once (polling would cost the API more than
		// the envelope itself).
		for !b.recv.has(env.ID) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for time.Now().Before(deadline) {
		var st struct{ Status string }
		if err := b.call(http.MethodGet, base+"/api/v1/envelopes/"+env.ID, b.key, nil, http.StatusOK, &st); err != nil {
			return env.ID, create, signs, err
		}
		if st.Status == "COMPLETED" {
			if b.check {
				return env.ID, create, signs, b.signedOnce(base, env.ID)
			}
			return env.ID, create, signs, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return env.ID, create, signs, fmt.Errorf("envelope %s not completed before the timeout", env.ID)
}

func (b *bench) upload(base string, pdf []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "contract.pdf")
	fw.Write(pdf)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+b.key)
	var d struct{ ID string }
	return d.ID, b.send(req, http.StatusCreated, &d)
}

// call sends body as JSON to url (a base URL and a path).
func (b *bench) call(method, url, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
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

// receiver is the benchmark's webhook consumer: it answers 204 at once and
// counts every message by its webhook-id.
type receiver struct {
	mu        sync.Mutex
	byID      map[string]int             // webhook-id → deliveries
	completed map[string]map[string]bool // envelope id → webhook-ids of its envelope.completed messages
}

// webhooks starts the receiver and registers it for every event type.
func (b *bench) webhooks() (*receiver, error) {
	r := &receiver{byID: map[string]int{}, completed: map[string]map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, r) //nolint:errcheck // lives as long as the process
	return r, b.call(http.MethodPost, b.bases[0]+"/api/v1/webhooks", b.key, map[string]any{
		"url": "http://" + ln.Addr().String() + "/hook", "description": "bench-envelopes"}, http.StatusCreated, nil)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var msg struct {
		Type string
		Data struct {
			ID string // envelope events carry the envelope's view
		}
	}
	raw, _ := io.ReadAll(req.Body)
	_ = json.Unmarshal(raw, &msg)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.byID[id]++
	if msg.Type == "envelope.completed" {
		if r.completed[msg.Data.ID] == nil {
			r.completed[msg.Data.ID] = map[string]bool{}
		}
		r.completed[msg.Data.ID][id] = true
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// has reports whether envelope id's envelope.completed arrived.
func (r *receiver) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.completed[id]
	return ok
}

// signedOnce downloads envelope id's signed document and checks that each
// recipient signed it exactly once.
func (b *bench) signedOnce(base, id string) error {
	var env struct{ Recipients []struct{ ID string } }
	if err := b.call(http.MethodGet, base+"/api/v1/envelopes/"+id, b.key, nil, http.StatusOK, &env); err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/envelopes/"+id+"/signed-document", nil)
	req.Header.Set("Authorization", "Bearer "+b.key)
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	pdf, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("signed document of %s: %d %v", id, resp.StatusCode, err)
	}
	var ids []string
	for _, r := range env.Recipients {
		ids = append(ids, r.ID)
	}
	counts, err := testenv.SignaturesPerRecipient(pdf, ids...)
	if err != nil {
		return fmt.Errorf("signed document of %s: %w", id, err)
	}
	for _, rid := range ids {
		if counts[rid] != 1 {
			return fmt.Errorf("envelope %s: recipient %s signed %d times, want 1", id, rid, counts[rid])
		}
	}
	return nil
}

// report waits up to limit for the envelope.completed message of every
// envelope in done, prints the deliveries and says whether none is missing
// and none came twice.
func (r *receiver) report(done []string, limit time.Duration) bool {
	end := time.Now().Add(limit)
	missing := 0
	for {
		r.mu.Lock()
		missing = 0
		for _, id := range done {
			if _, ok := r.completed[id]; !ok {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	deliveries, dups, twice := 0, 0, 0
	for _, n := range r.byID {
		deliveries += n
		if n > 1 {
			dups++
		}
	}
	for _, ids := range r.completed {
		if len(ids) > 1 {
			twice++ // completed twice: two events, not one delivered twice
		}
	}
	fmt.Printf("webhooks: %d deliveries of %d webhook-ids, %d delivered more than once; envelope.completed missing for %d of %d envelopes, published more than once for %d\n",
		deliveries, len(r.byID), dups, missing, len(done), twice)
	return missing == 0 && dups == 0 && twice == 0
}
