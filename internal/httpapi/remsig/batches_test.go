package remsig_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// signAll runs the worker's signing of every task of batch hash, as the
// job handler does, in process.
func signAll(t *testing.T, hash string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	if err := env.svc.PG.DB.Conn(ctx).Model(&batch.Task{}).Where("batch_hash = ?", hash).Order("seq").Pluck("id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	commit := func(ctx context.Context, fn func(ctx context.Context) error) error {
		return env.svc.PG.DB.WithTx(ctx, fn)
	}
	for _, id := range ids {
		if err := env.batches.SignTask(ctx, id, false, commit); err != nil {
			t.Fatalf("sign task %s: %v", id, err)
		}
	}
}

// download fetches batch hash's zip and returns its files by name.
func download(t *testing.T, tn *tenant, hash string) map[string][]byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.server.URL+"/api/batch/"+hash+"/download", nil)
	req.SetBasicAuth(tn.key.ID, tn.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Disposition") != "attachment;filename="+hash+".zip" || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %d %v %.200s", resp.StatusCode, resp.Header, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return files
}

// b64 is standard base64.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func testPDF(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../test/fixtures/test.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBatch_CreateAddCloseAuthorizeSignDownload(t *testing.T) {
	tn := newTenant(t)
	p, cert := tn.person(t, "pin-123456")
	pdf := base64.StdEncoding.EncodeToString(testPDF(t))
	data := base64.StdEncoding.EncodeToString([]byte("Lorem ipsum dolor sit amet."))

	r := call(t, http.MethodPost, "/api/batch/create", tn.secret, "",
		`{"personUniqueId":"`+p.UniqueID+`","redirects":{"success":"https://localhost/success"}}`)
	b := r.body["batch"].(map[string]any)
	hash := b["hash"].(string)
	if r.status != http.StatusOK || b["state"] != "OPEN" || b["tasksCount"] != 0.0 || b["percentFinished"] != 100.0 ||
		b["authRedirectUrl"] != "http://vellum.localhost/pin/"+hash || b["redirects"].(map[string]any)["success"] != "https://localhost/success" ||
		b["redirects"].(map[string]any)["cancel"] != nil {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodPost, "/api/batch/"+hash+"/add/pdf", tn.secret, "", `{"data":{"bytes":"`+pdf+`"},"name":"sample.pdf"}`)
	if r.status != http.StatusOK || r.body["batch"].(map[string]any)["tasksCount"] != 1.0 {
		t.Fatalf("add pdf: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodPost, "/api/batch/"+hash+"/add", tn.secret, "",
		`{"pdf":[{"data":{"bytes":"`+pdf+`"},"name":"second.pdf","watermark":{"insert":true,"text":"Signed","position":"TOP_RIGHT","page":"LAST"}}],`+
			`"pkcs7":[{"data":{"bytes":"`+data+`"},"name":"attached","noDetach":true},{"data":{"bytes":"`+data+`"},"name":"detached","pem":true}],`+
			`"pkcs1":[{"data":{"bytes":"`+data+`"},"name":"raw","algorithm":"SHA256withECDSA"}]}`)
	if r.status != http.StatusOK || r.body["batch"].(map[string]any)["tasksCount"] != 5.0 {
		t.Fatalf("add many: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodGet, "/api/batch/"+hash+"/tasks", tn.secret, "", "")
	if tasks := r.body["tasks"].([]any); len(tasks) != 5 || tasks[0].(map[string]any)["state"] != "NOT_READY" || tasks[0].(map[string]any)["displayName"] != nil {
		t.Fatalf("tasks: %s", r.raw)
	}
	// Bad input changes nothing.
	for _, body := range []string{`{"data":{"bytes":"%%%"},"name":"x.pdf"}`, `{"data":{"bytes":"` + data + `"},"name":"not.pdf"}`,
		`{"name":"x.pdf"}`, `{"data":{"bytes":"` + pdf + `"},"signatureLevel":"X"}`, `{"data":{"bytes":"` + pdf + `"},"timestamp":{"timeout":"9s"}}`} {
		if r := call(t, http.MethodPost, "/api/batch/"+hash+"/add/pdf", tn.secret, "", body); r.status != http.StatusBadRequest {
			t.Errorf("add %s: %d %s", body[:20], r.status, r.raw)
		}
	}
	if r := call(t, http.MethodGet, "/api/batch/"+hash, tn.secret, "", ""); r.body["batch"].(map[string]any)["tasksCount"] != 5.0 {
		t.Fatalf("bad input added tasks: %s", r.raw)
	}

	r = call(t, http.MethodPost, "/api/batch/"+hash+"/close", tn.secret, "", "")
	if r.status != http.StatusOK || r.body["batch"].(map[string]any)["state"] != "CLOSED" {
		t.Fatalf("close: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodPost, "/api/batch/"+hash+"/add/pkcs1", tn.secret, "", `{"data":{"bytes":"`+data+`"},"name":"late"}`); r.status != http.StatusConflict {
		t.Fatalf("add to a closed batch: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodGet, "/api/batch/"+hash+"/download", tn.secret, "", ""); r.status != http.StatusConflict {
		t.Fatalf("download before signing: %d %s", r.status, r.raw)
	}

	// Another account sees none of it.
	other := newTenant(t)
	for _, path := range []string{"/api/batch/" + hash, "/api/batch/" + hash + "/state", "/api/batch/" + hash + "/tasks", "/api/batch/" + hash + "/download"} {
		if r := call(t, http.MethodGet, path, other.secret, "", ""); r.status != http.StatusNotFound {
			t.Errorf("another account's %s: %d", path, r.status)
		}
	}
	if r := call(t, http.MethodDelete, "/api/batch/"+hash, other.secret, "", ""); r.status != http.StatusNotFound {
		t.Errorf("another account's delete: %d", r.status)
	}

	ctx := context.Background()
	if _, err := env.batches.Authorize(ctx, hash, "wrong-pin"); err == nil {
		t.Fatal("a wrong PIN authorised the batch")
	}
	if _, err := env.batches.Authorize(ctx, hash, "pin-123456"); err != nil {
		t.Fatal(err)
	}
	if r := call(t, http.MethodGet, "/api/batch/"+hash+"/state", tn.secret, "", ""); r.body["state"] != "PROCESSING" {
		t.Fatalf("state after the PIN: %s", r.raw)
	}
	signAll(t, hash)
	r = call(t, http.MethodGet, "/api/batch/"+hash, tn.secret, "", "")
	if b := r.body["batch"].(map[string]any); b["state"] != "FINISHED" || b["tasksFinished"] != 5.0 || b["percentFinished"] != 100.0 {
		t.Fatalf("after signing: %s", r.raw)
	}

	files := download(t, tn, hash)
	for _, name := range []string{"sample.pdf", "second.pdf", "attached.p7m", "detached.pem", "raw.sig"} {
		if len(files[name]) == 0 {
			t.Fatalf("zip lacks %s: has %v", name, len(files))
		}
	}
	for _, name := range []string{"sample.pdf", "second.pdf"} {
		rep, err := pades.Verify(bytes.NewReader(files[name]), int64(len(files[name])), pades.VerifyOptions{})
		if err != nil || len(rep.Signatures) != 1 {
			t.Fatalf("%s: %v %+v", name, err, rep)
		}
	}
	sd, err := cms.ParseSignedData(files["attached.p7m"])
	if err != nil || !bytes.Equal(sd.Content, []byte("Lorem ipsum dolor sit amet.")) {
		t.Fatalf("attached PKCS#7: %v", err)
	}
	if !bytes.HasPrefix(files["detached.pem"], []byte("-----BEGIN PKCS7-----")) && !bytes.HasPrefix(files["detached.pem"], []byte("-----BEGIN CMS-----")) {
		t.Fatalf("PEM PKCS#7: %.40s", files["detached.pem"])
	}
	x, _ := x509.ParseCertificate(cert.DER)
	digest := sha256.Sum256([]byte("Lorem ipsum dolor sit amet."))
	if !ecdsa.VerifyASN1(x.PublicKey.(*ecdsa.PublicKey), digest[:], files["raw.sig"]) {
		t.Fatal("the PKCS#1 task's signature does not verify")
	}

	r = call(t, http.MethodGet, "/api/batch/?size=10", tn.secret, "", "")
	if r.status != http.StatusOK || r.body["totalElements"] != 1.0 {
		t.Fatalf("list: %s", r.raw)
	}
	if r := call(t, http.MethodDelete, "/api/batch/"+hash, tn.secret, "", ""); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodGet, "/api/batch/"+hash, tn.secret, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("after delete: %d", r.status)
	}
}

func TestSign_SingleTaskIsABatchOfOne(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	pdf := base64.StdEncoding.EncodeToString(testPDF(t))
	r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","base64Pdf":"`+pdf+`","documentName":"sample.pdf"}`)
	hash, _ := r.body["hash"].(string)
	if r.status != http.StatusOK || hash == "" || r.body["authRedirectUrl"] != "http://vellum.localhost/pin/"+hash {
		t.Fatalf("sign pdf: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodGet, "/api/batch/"+hash, tn.secret, "", "")
	if b := r.body["batch"].(map[string]any); b["state"] != "CLOSED" || b["tasksCount"] != 1.0 {
		t.Fatalf("the single task's batch: %s", r.raw)
	}
	r = call(t, http.MethodPost, "/api/sign/pkcs7", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","base64Data":"TG9yZW0=","name":"sample.txt"}`)
	if r.status != http.StatusOK {
		t.Fatalf("sign pkcs7: %d %s", r.status, r.raw)
	}
	for _, tc := range []struct{ body string }{
		{`{"base64Pdf":"` + pdf + `"}`},
		{`{"personUniqueId":"nobody","base64Pdf":"` + pdf + `"}`},
		{`{"personUniqueId":"` + p.UniqueID + `","certificateIndex":7,"base64Pdf":"` + pdf + `"}`},
		{`{"personUniqueId":"` + p.UniqueID + `","base64Pdf":"` + pdf + `","redirects":{"success":"javascript:alert(1)"}}`},
		{`{"personUniqueId":"` + p.UniqueID + `","data":{"http":{"url":"http://127.0.0.1/x.pdf"}}}`},
	} {
		if r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", tc.body); r.status < 400 || r.status >= 500 {
			t.Errorf("%s: %d %s", tc.body[:40], r.status, r.raw)
		}
	}
}

func TestValidate_CodesAndDocument(t *testing.T) {
	r := call(t, http.MethodGet, "/api/sign/validate/pdf/codes", "", "", "")
	if r.status != http.StatusOK || len(r.body["errors"].([]any)) != 8 || r.body["errors"].([]any)[0].(map[string]any)["code"] != 1.0 {
		t.Fatalf("codes: %d %s", r.status, r.raw)
	}
	tn := newTenant(t)
	pdf := base64.StdEncoding.EncodeToString(testPDF(t))
	r = call(t, http.MethodPost, "/api/sign/validate/pdf", tn.secret, "", `{"data":{"bytes":"`+pdf+`"},"watermark":{"insert":true,"position":"TOP_LEFT"}}`)
	if r.status != http.StatusOK || r.body["signable"] != true || len(r.body["errors"].([]any)) != 0 {
		t.Fatalf("validate: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodPost, "/api/sign/validate/pdf", tn.secret, "", `{"data":{"bytes":"`+pdf+`"},"watermark":{"page":"9"}}`)
	if r.status != http.StatusOK || r.body["signable"] != false || r.body["errors"].([]any)[0].(map[string]any)["code"] != 7.0 {
		t.Fatalf("validate a watermark off the document: %d %s", r.status, r.raw)
	}
	for _, body := range []string{`{}`, `{"data":{"bytes":"bm90IGEgcGRm"}}`, `{"data":{"bytes":"!!"}}`} {
		if r := call(t, http.MethodPost, "/api/sign/validate/pdf", tn.secret, "", body); r.status < 400 || r.status >= 500 {
			t.Errorf("validate %s: %d %s", body, r.status, r.raw)
		}
	}
}

func TestManage_EnableDisableAndTimestampServers(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	userID, userSecret := tn.keyWith(t, account.RoleUser)
	if r := call(t, http.MethodPost, "/api/manage/certificate/disable", userID, userSecret, `{"personUniqueId":"`+p.UniqueID+`","index":0}`); r.status != http.StatusForbidden {
		t.Fatalf("disable with a USER key: %d %s", r.status, r.raw)
	}
	r := call(t, http.MethodPost, "/api/manage/certificate/disable", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","index":0}`)
	if r.status != http.StatusOK || r.body["certificate"].(map[string]any)["disabled"] != true {
		t.Fatalf("disable: %d %s", r.status, r.raw)
	}
	pdf := base64.StdEncoding.EncodeToString(testPDF(t))
	if r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","base64Pdf":"`+pdf+`"}`); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("signing with a disabled certificate: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodPost, "/api/manage/certificate/enable", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","certificateIndex":0}`)
	if r.status != http.StatusOK || r.body["certificate"].(map[string]any)["disabled"] != false {
		t.Fatalf("enable: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodPost, "/api/manage/certificate/enable", tn.secret, "", `{"personUniqueId":"nobody"}`); r.status != http.StatusNotFound {
		t.Fatalf("enable nobody's: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodGet, "/api/timestamp/servers", tn.secret, "", "")
	if r.status != http.StatusOK || r.body["totalElements"] != 0.0 {
		t.Fatalf("servers: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodPost, "/api/timestamp/relay/none", userID, userSecret, "x"); r.status != http.StatusForbidden {
		t.Fatalf("relay with a USER key: %d %s", r.status, r.raw)
	}
}
