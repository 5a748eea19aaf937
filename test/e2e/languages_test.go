package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSigningPage_Languages walks every state of the signing page in three
// languages (chosen by the envelope's language), at a phone's and a
// desktop's size, and at 320 px: each state is in the language asked for,
// fits the width, and is saved as a screenshot ($VELLUM_E2E_SCREENSHOTS)
// for a person to look at.
func TestSigningPage_Languages(t *testing.T) {
	app := startDev(t)
	browser, _ := newBrowser(t, 8*time.Minute)
	docID := app.uploadFixture("test.pdf")

	sizes := []struct {
		name   string
		w, h   int64
		mobile bool
	}{{"phone", 375, 812, true}, {"desktop", 1280, 800, false}}
	shoot := func(t *testing.T, lang, state string) {
		t.Helper()
		checkAccessibility(t, browser, lang+"-"+state)
		for _, s := range sizes {
			opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if s.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
			}
			if err := chromedp.Do(browser, chromedp.EmulateViewport(s.w, s.h, opts...)); err != nil {
				t.Fatal(err)
			}
			checkNoHorizontalScroll(t, browser)
			screenshot(t, browser, fmt.Sprintf("%s-%s-%s", lang, state, s.name))
		}
		// Usable at 320 px: nothing wider than the screen.
		if err := chromedp.Do(browser, chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		checkNoHorizontalScroll(t, browser)
		if err := chromedp.Do(browser, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(phoneScale), chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
	}
	expectLang := func(t *testing.T, lang, phrase string) {
		t.Helper()
		got, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.documentElement.lang + '|' + document.body.textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, lang+"|") || !strings.Contains(got, phrase) {
			t.Errorf("page is not %s with %q: %.300s", lang, phrase, got)
		}
	}

	for _, tc := range []struct {
		lang                                           string
		form, required, declineTitle, signed, declined string
	}{
		{"cs", "Žádost o podpis", "Zaškrtnutím políčka", "Odmítnout podpis", "Podepsali jste", "Odmítli jste"},
		{"ru", "Запрошена подпись", "Отметьте флажок", "Отказаться от подписания", "Вы подписали документы", "Вы отказались"},
		{"kk", "Қол қою сұралады", "белгі қойыңыз", "Қол қоюдан бас тарту", "Сіз қол қойдыңыз", "Сіз бас тарттыңыз"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			app := app.in(t)
			send := func(name string) string {
				env := app.sendEnvelope(map[string]any{
					"subject": "Smlouva / Договор / Шарт " + name, "message": "Hello,\nplease sign.", "language": tc.lang,
					"documentIds": []string{docID},
					"recipients": []map[string]any{{
						"email": name + "@example.com", "name": "Ada Lovelace", "role": "SIGNER",
						"fields": []map[string]any{
							{"documentId": docID, "type": "SIGNATURE", "page": 1, "x": 50, "y": 50, "width": 160, "height": 50, "required": true},
							{"documentId": docID, "type": "TEXT", "page": 1, "x": 50, "y": 120, "width": 160, "height": 20, "required": true},
							{"documentId": docID, "type": "CHECKBOX", "page": 1, "x": 50, "y": 160, "width": 12, "height": 12, "required": false},
						},
					}},
				})
				return env.Recipients[0].SignURL
			}
			signURL := send(tc.lang + "-sign")
			if err := chromedp.Do(browser, chromedp.Navigate(signURL), chromedp.WaitVisible(chromedp.ID("sign-form"))); err != nil {
				t.Fatal(err)
			}
			expectLang(t, tc.lang, tc.form)
			shoot(t, tc.lang, "1-form")

			if err := chromedp.Do(browser, chromedp.Click(chromedp.ID("sign-submit")), chromedp.WaitVisible(chromedp.ID("sign-errors"))); err != nil {
				t.Fatal(err)
			}
			expectLang(t, tc.lang, tc.required)
			shoot(t, tc.lang, "2-errors")

			if err := chromedp.Do(browser, chromedp.Click(chromedp.CSS(`label[for="sig-mode-drawn"]`)), chromedp.WaitVisible(chromedp.ID("pad"))); err != nil {
				t.Fatal(err)
			}
			drawSignature(t, browser)
			shoot(t, tc.lang, "3-drawn")

			if err := chromedp.Do(browser,
				chromedp.SendKeys(chromedp.CSS(`input[data-kind="text"]`), "Ředitelka"),
				chromedp.Click(chromedp.ID("consent")),
				chromedp.Click(chromedp.ID("sign-submit")),
				chromedp.WaitVisible(chromedp.ID("done-signed")),
			); err != nil {
				t.Fatal(err)
			}
			expectLang(t, tc.lang, tc.signed)
			shoot(t, tc.lang, "4-done-signed")

			if err := chromedp.Do(browser, chromedp.Navigate(signURL), chromedp.WaitVisible(chromedp.CSS(`[data-state="signed"]`))); err != nil {
				t.Fatal(err)
			}
			expectLang(t, tc.lang, tc.signed)
			shoot(t, tc.lang, "5-state-already-signed")

			declineURL := send(tc.lang + "-decline")
			if err := chromedp.Do(browser, chromedp.Navigate(declineURL), chromedp.WaitVisible(chromedp.ID("sign-form")),
				chromedp.Click(chromedp.ID("decline-open")), chromedp.WaitVisible(chromedp.ID("decline-reason"))); err != nil {
				t.Fatal(err)
			}
			expectLang(t, tc.lang, tc.declineTitle)
			shoot(t, tc.lang, "6-decline-form")
			if err := chromedp.Do(browser, chromedp.SendKeys(chromedp.ID("decline-reason"), "—"),
				chromedp.Click(chromedp.ID("decline-submit")), chromedp.WaitVisible(chromedp.ID("done-declined"))); err != nil {
				t.Fatal(err)
			}
			expectLang(t, tc.lang, tc.declined)
			shoot(t, tc.lang, "7-done-declined")

			// An unknown link has no envelope: the browser's language speaks.
			if err := chromedp.Do(browser, chromedp.Navigate(app.base+"/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
				chromedp.WaitVisible(chromedp.CSS(`[data-state="unknown"]`))); err != nil {
				t.Fatal(err)
			}
			shoot(t, tc.lang, "8-state-unknown-browser-language")
		})
	}
}
