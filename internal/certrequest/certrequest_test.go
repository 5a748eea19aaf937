package certrequest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/certrequest"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/validation"
)

var env struct {
	pg       *testenv.Postgres
	accounts *account.Service
	persons  *person.Service
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	if env.pg, err = testenv.StartPostgres(ctx, "certrequest"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.pg.Close()
	dir, err := os.MkdirTemp("", "vellum-certrequest-pki-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ca, err := pki.LoadOrCreate(ctx, dir, "http://127.0.0.1:9", pki.WithStore(pki.NewDBStore(env.pg.DB)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.accounts = account.NewService(env.pg.DB)
	kek, _ := person.NewKEKString()
	rec, _ := person.NewKEKString()
	k1, _ := person.ParseKEK(kek)
	k2, _ := person.ParseKEK(rec)
	if env.persons, err = person.NewService(env.pg.DB, ca, &person.Keyring{KEK: k1, Recovery: k2},
		person.Config{Argon2: person.Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// refusing is an outside CA that turns every request down.
type refusing struct{}

func (refusing) Fulfil(context.Context, account.Scope, *certrequest.Request) (*certrequest.Fulfilment, error) {
	return nil, errors.New("PostSignum: request refused")
}

func setup(t *testing.T, ca func(*person.Service) certrequest.Fulfiller) (*certrequest.Service, account.Scope, *person.Person, *testenv.Clock) {
	t.Helper()
	ctx := context.Background()
	a, err := env.accounts.CreateAccount(ctx, "Tenant "+t.Name(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	scope := account.Scope{AccountID: a.ID, Environment: account.Test}
	p, err := env.persons.Create(ctx, scope, person.CreateInput{UniqueID: "anna@uni.localhost",
		Email: fmt.Sprintf("anna.%d@mail.localhost", time.Now().UnixNano()), Name: "Anna White"})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testenv.Clock{}
	return certrequest.NewService(env.pg.DB, env.persons, ca(env.persons), clock.Now), scope, p, clock
}

func ptr[T any](v T) *T { return &v }

func input(p *person.Person) certrequest.CreateInput {
	return certrequest.CreateInput{PersonUniqueID: &p.UniqueID, FirstName: ptr("Anna"), LastName: ptr("White"),
		BirthNumber: ptr("8551011234"), Emails: []string{"anna@mail.localhost"}, Country: ptr("CZ")}
}

func TestFailedFulfilmentImportsNothing(t *testing.T) {
	ctx := context.Background()
	svc, scope, p, _ := setup(t, func(*person.Service) certrequest.Fulfiller { return refusing{} })
	r, err := svc.Create(ctx, scope, input(p))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, scope, r.Number); !errors.Is(err, certrequest.ErrFulfilment) {
		t.Fatalf("approve with a refusing CA: %v", err)
	}
	got, err := svc.Get(ctx, scope, r.Number)
	if err != nil || got.State != certrequest.StateFailed || got.ApprovedAt == nil || got.ImportedCertificateID != nil {
		t.Fatalf("after the refusal: %v %+v", err, got)
	}
	certs, err := env.persons.ListCertificates(ctx, scope, p.ID, listing.Query{Limit: 10})
	if err != nil || certs.Total != 0 {
		t.Fatalf("the person's certificates: %v %d", err, certs.Total)
	}
	if _, err := svc.Approve(ctx, scope, r.Number); !errors.Is(err, certrequest.ErrAlreadyApproved) {
		t.Fatalf("approving again: %v", err)
	}
}

func TestExpiryAndDeletion(t *testing.T) {
	ctx := context.Background()
	svc, scope, p, clock := setup(t, func(ps *person.Service) certrequest.Fulfiller { return certrequest.PlatformCA{Persons: ps} })
	r, err := svc.Create(ctx, scope, input(p))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(certrequest.Lifetime)
	got, err := svc.Get(ctx, scope, r.Number)
	if err != nil || got.StateAt(clock.Now()) != certrequest.StateExpired {
		t.Fatalf("after %v: %v %+v", certrequest.Lifetime, err, got)
	}
	if _, err := svc.Approve(ctx, scope, r.Number); !errors.Is(err, certrequest.ErrExpired) {
		t.Fatalf("approving an expired request: %v", err)
	}
	clock.Advance(certrequest.DeletionPeriod - certrequest.Lifetime)
	if _, err := svc.Get(ctx, scope, r.Number); !errors.Is(err, certrequest.ErrNotFound) {
		t.Fatalf("after the deletion date: %v", err)
	}
	if page, err := svc.List(ctx, scope, listing.Query{Limit: 10}); err != nil || page.Total != 0 {
		t.Fatalf("list after the deletion date: %v %d", err, page.Total)
	}
	// Hidden, and then purged: the row and its personal data are gone,
	// while a request not yet stale stays.
	fresh, err := svc.Create(ctx, scope, input(p))
	if err != nil {
		t.Fatal(err)
	}
	rows := func(id string) int64 {
		var n int64
		if err := env.pg.DB.Conn(ctx).Model(&certrequest.Request{}).Where("id = ?", id).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if rows(r.ID) != 1 {
		t.Fatal("the stale request is not in the database before the purge: the test would prove nothing")
	}
	if err := svc.Purger(time.Hour, slog.Default()).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if rows(r.ID) != 0 || rows(fresh.ID) != 1 {
		t.Fatalf("after the purge: stale rows %d (want 0), fresh rows %d (want 1)", rows(r.ID), rows(fresh.ID))
	}
}

// TestIssuedCertificateCarriesTheRequestsNames: the certificate names the
// holder as the request does (degrees, first and last name, position,
// workplace, country, the first three addresses), not as the person is
// stored, and multiYear makes it valid for three years instead of one.
func TestIssuedCertificateCarriesTheRequestsNames(t *testing.T) {
	ctx := context.Background()
	svc, scope, p, _ := setup(t, func(ps *person.Service) certrequest.Fulfiller { return certrequest.PlatformCA{Persons: ps} })
	in := input(p)
	in.DegreeBefore, in.FirstName, in.LastName, in.DegreeAfter = ptr("Ing."), ptr("Jana"), ptr("Nováková"), ptr("Ph.D.")
	in.Position, in.Workplace, in.Country, in.Gender, in.MultiYear = ptr("Lecturer"), ptr("Faculty of Informatics"), ptr("SK"), ptr("f"), ptr(true)
	in.Emails = []string{"jana@uni.localhost", "jana.n@mail.localhost", "j@x.localhost", "fourth@x.localhost"}
	issued := func(in certrequest.CreateInput) *x509.Certificate {
		t.Helper()
		r, err := svc.Create(ctx, scope, in)
		if err != nil {
			t.Fatal(err)
		}
		d, err := svc.Approve(ctx, scope, r.Number)
		if err != nil {
			t.Fatal(err)
		}
		c, err := env.persons.GetCertificate(ctx, scope, p.ID, d.Fulfilment.CertificateID)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(c.DER)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x := issued(in)
	attr := map[string]string{}
	for _, a := range x.Subject.Names {
		attr[a.Type.String()], _ = a.Value.(string)
	}
	want := map[string]string{"2.5.4.3": "Ing. Jana Nováková, Ph.D.", "2.5.4.42": "Jana", "2.5.4.4": "Nováková",
		"2.5.4.12": "Lecturer", "2.5.4.11": "Faculty of Informatics", "2.5.4.6": "SK"}
	for oid, v := range want {
		if attr[oid] != v {
			t.Errorf("subject %s = %q, want %q (subject %s)", oid, attr[oid], v, x.Subject)
		}
	}
	if strings.Contains(x.Subject.String(), "Anna White") || strings.Join(x.EmailAddresses, ",") != "jana@uni.localhost,jana.n@mail.localhost,j@x.localhost" {
		t.Errorf("names the stored person or the wrong addresses: %s %v", x.Subject, x.EmailAddresses)
	}
	if days := x.NotAfter.Sub(x.NotBefore).Hours() / 24; days < 3*365-1 || days > 3*365+1 {
		t.Errorf("multiYear: valid %.0f days, want three years", days)
	}
	in.MultiYear = ptr(false)
	if days := issued(in).NotAfter.Sub(x.NotBefore).Hours() / 24; days < 364 || days > 366 {
		t.Errorf("without multiYear: valid %.0f days, want one year", days)
	}
}

func TestValidationNamesEveryField(t *testing.T) {
	ctx := context.Background()
	svc, scope, p, _ := setup(t, func(*person.Service) certrequest.Fulfiller { return refusing{} })
	in := input(p)
	in.BirthNumber, in.Country, in.Emails, in.FirstName = ptr("12-34"), ptr("Czechia"), nil, nil
	_, err := svc.Create(ctx, scope, in)
	var v validation.Errors
	if !errors.As(err, &v) {
		t.Fatalf("want field errors, got %v", err)
	}
	fields := map[string]bool{}
	for _, f := range v {
		fields[f.Field] = true
	}
	for _, f := range []string{"birthCertificateNumber", "country", "emails", "firstName"} {
		if !fields[f] {
			t.Errorf("%s not named in %v", f, v)
		}
	}
	if page, err := svc.List(ctx, scope, listing.Query{Limit: 10}); err != nil || page.Total != 0 {
		t.Fatalf("something was filed: %v %d", err, page.Total)
	}
}
