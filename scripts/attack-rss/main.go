// Command attack-rss measures `vellum serve`'s peak memory under the two
// resource attacks of issue 9: multipart bodies of ~50 MB made of empty
// parts, several at once, and many clients trickling request bodies (on an
// unauthenticated signer route and on an authenticated one). It reads the
// serve process's peak RSS (VmHWM, reset through /proc/PID/clear_refs
// before each phase, which needs the right to write there) and reports, per
// phase, the answers and how long the server let trickling clients hold a
// connection. Run it against a stack from scripts/benchstack:
//
//	make build && go run ./scripts/benchstack -- go run ./scripts/attack-rss
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	parts := flag.Int("multipart", 4, "concurrent ~50 MB empty-part uploads")
	size := flag.Int64("multipart-bytes", 50<<20, "bytes per empty-part upload")
	trickle := flag.Int("trickle", 100, "trickling connections per route")
	every := flag.Duration("every", 2*time.Second, "one byte per trickling connection this often")
	giveUp := flag.Duration("give-up", 60*time.Second, "stop a trickling connection the server still holds after this long")
	flag.Parse()
	base, key := os.Getenv("VELLUM_BASE_URL"), os.Getenv("VELLUM_API_KEY")
	pid, err := strconv.Atoi(os.Getenv("VELLUM_SERVE_PID"))
	if base == "" || key == "" || err != nil {
		fail(fmt.Errorf("VELLUM_BASE_URL, VELLUM_API_KEY and VELLUM_SERVE_PID must be set (run under scripts/benchstack)"))
	}
	fmt.Printf("serve pid %d, RSS at rest %s\n", pid, mib(rss(pid, "VmRSS")))

	resetPeak(pid)
	start := time.Now()
	codes, bytesBack := multipartAttack(base, key, *parts, *size)
	fmt.Printf("multipart: %d × %d MB of empty parts in %.1fs: answers %v, %d response bytes in all; serve peak RSS %s\n",
		*parts, *size>>20, time.Since(start).Seconds(), codes, bytesBack, mib(rss(pid, "VmHWM")))

	resetPeak(pid)
	u, _ := url.Parse(base)
	for _, route := range []struct{ name, head string }{
		{"signer (unauthenticated, bogus token)", "POST /api/v1/signer/bogus-token/sign HTTP/1.1\r\nHost: x\r\n"},
		{"keys (authenticated)", "POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n"},
	} {
		held, answers := trickleAttack(u.Host, route.head, *trickle, *every, *giveUp)
		sort.Slice(held, func(i, j int) bool { return held[i] < held[j] })
		fmt.Printf("trickle %s: %d connections, one byte per %s: answers %v, connection held median %.1fs, max %.1fs\n",
			route.name, *trickle, *every, answers, held[len(held)/2].Seconds(), held[len(held)-1].Seconds())
	}
	fmt.Printf("trickle: serve peak RSS %s\n", mib(rss(pid, "VmHWM")))
}

// multipartAttack streams n bodies of empty parts at once.
func multipartAttack(base, key string, n int, size int64) (map[int]int, int64) {
	var mu sync.Mutex
	codes := map[int]int{}
	var total int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			const boundary = "b"
			part := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n"
			pr, pw := io.Pipe()
			go func() {
				chunk := []byte(strings.Repeat(part, 1024))
				for sent := int64(0); sent < size; sent += int64(len(chunk)) {
					if _, err := pw.Write(chunk); err != nil {
						return
					}
				}
				_, _ = io.WriteString(pw, "--"+boundary+"--\r\n")
				_ = pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/documents", pr)
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
			code, nb := -1, int64(0)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				nb, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			_ = pr.CloseWithError(io.EOF)
			mu.Lock()
			codes[code]++
			total += nb
			mu.Unlock()
		}()
	}
	wg.Wait()
	return codes, total
}

// trickleAttack opens n connections that announce a 1000-byte JSON body
// and send one byte of it every interval, until the server answers or
// closes; it returns how long each connection was held and the answers.
func trickleAttack(host, head string, n int, every, giveUp time.Duration) ([]time.Duration, map[string]int) {
	var mu sync.Mutex
	held := make([]time.Duration, 0, n)
	answers := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			answer := "refused"
			defer func() {
				mu.Lock()
				held = append(held, time.Since(start))
				answers[answer]++
				mu.Unlock()
			}()
			conn, err := net.Dial("tcp", host)
			if err != nil {
				return
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, head+"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
				return
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Minute))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					answer = "closed without answer"
					return
				}
				answer = strconv.Itoa(resp.StatusCode)
				resp.Body.Close()
			}()
			tick := time.NewTicker(every)
			defer tick.Stop()
			limit := time.After(giveUp)
			for {
				select {
				case <-done:
					return
				case <-limit:
					answer = "still held at give-up"
					_ = conn.Close()
					<-done
					answer = "still held at give-up"
					return
				case <-tick.C:
					if _, err := conn.Write([]byte(" ")); err != nil {
						<-done
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return held, answers
}

func resetPeak(pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		fmt.Fprintln(os.Stderr, "attack-rss: cannot reset the peak RSS (the figures include earlier phases):", err)
	}
}

// rss reads a /proc/PID/status field in kB.
func rss(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fail(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "attack-rss:", err)
	os.Exit(1)
}
