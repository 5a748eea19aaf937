package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// remsigExample is one example request of RemSig's documentation with the
// response it documents.
type remsigExample struct {
	title, method, url, body string
	headers                  map[string]string
	status                   int
	respHeaders              map[string]string
	respBody                 string
}

var (
	curlURL    = regexp.MustCompile(`\$ curl (\S+)`)
	curlMethod = regexp.MustCompile(`-X (\w+)`)
	curlHeader = regexp.MustCompile(`-H '([^:]+): ([^']*)'`)
	curlData   = regexp.MustCompile(`(?s)-d '(.*)'`)
	httpStatus = regexp.MustCompile(`^HTTP/1.1 (\d+)`)
)

// readRemsigExamples parses test/fixtures/remsig-examples.txt.
func readRemsigExamples(t *testing.T) []remsigExample {
	t.Helper()
	raw, err := os.ReadFile("../fixtures/remsig-examples.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []remsigExample
	for _, sec := range strings.Split(string(raw), "\n### ")[1:] {
		title, rest, _ := strings.Cut(sec, "\n")
		req, resp, _ := strings.Cut(rest, "\n--- response\n")
		ex := remsigExample{title: title, headers: map[string]string{}, respHeaders: map[string]string{}, method: "GET"}
		ex.url = curlURL.FindStringSubmatch(req)[1]
		if m := curlMethod.FindStringSubmatch(req); m != nil {
			ex.method = m[1]
		}
		for _, m := range curlHeader.FindAllStringSubmatch(req, -1) {
			ex.headers[m[1]] = m[2]
		}
		if m := curlData.FindStringSubmatch(req); m != nil {
			ex.body = m[1]
		}
		lines := strings.Split(strings.TrimSpace(resp), "\n")
		if m := httpStatus.FindStringSubmatch(lines[0]); m != nil {
			fmt.Sscan(m[1], &ex.status)
			i := 1
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				k, v, _ := strings.Cut(lines[i], ": ")
				ex.respHeaders[k] = v
			}
			ex.respBody = strings.TrimSpace(strings.Join(lines[i:], "\n"))
		}
		out = append(out, ex)
	}
	return out
}

// shapeDiff lists where got lacks a documented field or holds another JSON
// type there; documented nulls match anything.
func shapeDiff(path string, doc, got any) []string {
	switch d := doc.(type) {
	case nil:
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": want an object"}
		}
		var out []string
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				out = append(out, path+"."+k+": missing")
				continue
			}
			out = append(out, shapeDiff(path+"."+k, d[k], gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{path + ": want an array"}
		}
		if len(d) > 0 && len(g) > 0 {
			return shapeDiff(path+"[0]", d[0], g[0])
		}
		return nil
	default:
		if got == nil || fmt.Sprintf("%T", doc) != fmt.Sprintf("%T", got) {
			return []string{fmt.Sprintf("%s: want %T like %v, got %v", path, doc, doc, got)}
		}
		return nil
	}
}

// TestRemSig_DocumentationExamples runs every example request of RemSig's
// documentation against `vellum dev`, changing only the host, the
// credentials and what must exist here (the persons the examples name, the
// batch hashes, the elided base64 data), and checks the documented status,
// headers and response shape.
func TestRemSig_DocumentationExamples(t *testing.T) {
	app, _ := startDevProc(t)
	rs := &remsigClient{t: t, base: app.base, key: app.key}
	pdf, err := os.ReadFile("../fixtures/test.pdf")
	if err != nil {
		t.Fatal(err)
	}
	pdf64 := base64.StdEncoding.EncodeToString(pdf)
	data64 := base64.StdEncoding.EncodeToString([]byte("Lorem ipsum dolor sit amet."))
	// The persons the examples name, with certificates up to the indexes
	// they use.
	for uid, certs := range map[string]int{"person@localhost": 1, "123456@localhost": 1, "someid@uni.localhost": 1,
		"person1234@localhost": 2, "person1@localhost": 4} {
		var p e2ePerson
		app.postJSON("/api/v1/persons", map[string]any{"uniqueId": uid, "email": strings.ReplaceAll(uid, "@", ".") + "@mail.localhost", "name": "Person " + uid},
			http.StatusCreated, &p)
		for i := 0; i < certs; i++ {
			app.postJSON("/api/v1/persons/"+p.ID+"/certificates", map[string]any{"password": "pin-24681357"}, http.StatusCreated, nil)
		}
	}
	// The batch with redirects the examples read (7615630b6a2).
	other := rs.must(http.MethodPost, "/api/batch/create", map[string]any{"personUniqueId": "123456@localhost",
		"redirects": map[string]any{"success": "https://localhost/success", "cancel": "https://localhost/bad?reason=cancel",
			"error": "https://localhost/not?reason=error&p2=param#addional-param"}})["batch"].(map[string]any)["hash"].(string)
	hashes := map[string]string{"7615630b6a2": other}
	dir := t.TempDir()
	query := filepath.Join(dir, "q.tsq")
	if out, err := exec.Command("openssl", "ts", "-query", "-data", "../fixtures/test.pdf", "-sha256", "-cert", "-out", query).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -query: %v %s", err, out)
	}
	tsq, _ := os.ReadFile(query)

	// Each example on one PostSignum request (approve, deny, patch, delete
	// the documented ids) gets a fresh one: a subsequent request, as the
	// documented ones are, so its message to sign exists.
	psRequest := regexp.MustCompile(`/api/manage/certificate/postsignum/request/(\d+)`)
	// The documented denied and patched requests hold a PKCS #10 request
	// (and the patched one an approval) while PostSignum works on them;
	// the platform CA fulfils at approval, so a request that is not
	// approved has none and one that is approved is no longer patched.
	tolerated := map[string]*regexp.Regexp{"6.9 Deny Request": regexp.MustCompile(`^\.request\.certificateRequest:`),
		"6.10 Patch Request": regexp.MustCompile(`^\.request\.(approvedDate|certificateRequest):`)}
	ran := 0
	for _, ex := range readRemsigExamples(t) {
		u, _ := url.Parse(ex.url)
		path := u.RequestURI()
		for doc, ours := range hashes {
			path = strings.ReplaceAll(path, doc, ours)
		}
		path = strings.Replace(path, "/relay/tsp_server_1", "/relay/tsa_1", 1)
		if m := psRequest.FindStringSubmatch(path); m != nil {
			fresh := rs.must(http.MethodPost, "/api/manage/certificate/postsignum/request/create", map[string]any{
				"personUniqueId": "someid@uni.localhost", "firstName": "Anna", "lastName": "White", "birthCertificateNumber": "01.02.1985",
				"gender": "FEMALE", "insertMPSV": true, "emails": []string{"anna@mail.localhost"}, "country": "GB", "certificateIndex": 0,
				"position": "Director", "workplace": "Faculty of medicine", "organizationUnitId": 6,
				"redirects": map[string]any{"success": "https://localhost"}})["request"].(map[string]any)
			path = strings.Replace(path, m[0], fmt.Sprintf("/api/manage/certificate/postsignum/request/%.0f", fresh["id"]), 1)
			if ex.title == "6.6 Get Request By Id" {
				// The documented one has been approved.
				rs.must(http.MethodPost, path+"/approve", nil)
			}
		}
		body := []byte(ex.body)
		body = bytes.ReplaceAll(body, []byte("JVBERi0xLjcK...DSUlRU9GDQ=="), []byte(pdf64))
		body = bytes.ReplaceAll(body, []byte("TG9yZW0gaXBz...c2l0IGFtZXQu"), []byte(data64))
		body = bytes.ReplaceAll(body, []byte("c29tZSBsb25n...YXRhIGhlcmU="), []byte("c29tZSBsb25nZGF0YSBoZXJl"))
		if ex.headers["Content-Type"] == "application/timestamp-query" {
			body = tsq
		}
		if strings.HasSuffix(path, "/download") {
			// Something must be signed to download: authorise the batch on
			// its PIN page (a plain form post here; the browser test does it
			// in Chromium).
			authorise(t, app.base+"/pin/"+hashes["39754fe3c130"], "pin-24681357")
			rs.waitState(hashes["39754fe3c130"], 2*time.Minute)
		}
		req, err := http.NewRequest(ex.method, app.base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range ex.headers {
			req.Header.Set(k, v)
		}
		req.SetBasicAuth(app.key, "")
		if ex.title == "3.1 Validate Pdf Codes" {
			req.Header.Del("Authorization") // public
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ran++
		name := ex.title + " " + ex.method + " " + path
		if ex.status == 0 {
			// A documented request without a documented answer: the
			// data.http examples, whose host is not a registered data
			// source here, are refused as the document says.
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), "registered data source") {
				t.Errorf("%s: %d %s", name, res.StatusCode, got)
			}
			continue
		}
		if res.StatusCode != ex.status {
			t.Errorf("%s: %d, documented %d: %s", name, res.StatusCode, ex.status, got)
			continue
		}
		if res.Header.Get("Operation-Id") == "" {
			t.Errorf("%s: no Operation-Id", name)
		}
		if ct := ex.respHeaders["Content-Type"]; !strings.HasPrefix(ct, res.Header.Get("Content-Type")) && !strings.HasPrefix(res.Header.Get("Content-Type"), strings.Split(ct, ";")[0]) {
			t.Errorf("%s: Content-Type %q, documented %q", name, res.Header.Get("Content-Type"), ct)
		}
		if cd := ex.respHeaders["Content-Disposition"]; cd != "" {
			want := strings.ReplaceAll(cd, "39754fe3c130", hashes["39754fe3c130"])
			if res.Header.Get("Content-Disposition") != want {
				t.Errorf("%s: Content-Disposition %q, want %q", name, res.Header.Get("Content-Disposition"), want)
			}
		}
		if !strings.HasPrefix(ex.respBody, "{") {
			continue
		}
		var doc, ours any
		// The example's JSON is followed by the next chapter's heading.
		if err := json.NewDecoder(strings.NewReader(ex.respBody)).Decode(&doc); err != nil {
			t.Fatalf("%s: the documented body does not parse: %v", name, err)
		}
		if err := json.Unmarshal(got, &ours); err != nil {
			t.Errorf("%s: %v in %s", name, err, got)
			continue
		}
		for _, d := range shapeDiff("", doc, ours) {
			if re := tolerated[ex.title]; re != nil && re.MatchString(d) {
				continue
			}
			t.Errorf("%s: %s\n%s", name, d, got)
		}
		if ex.title == "4.1 Batch Create" {
			hashes["39754fe3c130"] = ours.(map[string]any)["batch"].(map[string]any)["hash"].(string)
		}
	}
	if ran != 34 {
		t.Fatalf("ran %d examples, the document has 34", ran)
	}
}

// authorise posts the PIN page's form as a browser would.
func authorise(t *testing.T, pageURL, pin string) {
	t.Helper()
	res, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no form on %s: %s", pageURL, page)
	}
	req, _ := http.NewRequest(http.MethodPost, pageURL, strings.NewReader(url.Values{"csrf_token": {string(m[1])}, "password": {pin}, "action": {"sign"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range res.Cookies() {
		req.AddCookie(c)
	}
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PIN entry on %s: %d", pageURL, res.StatusCode)
	}
}
