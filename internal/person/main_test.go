package person

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
)

// env is the package's real services: a PostgreSQL database and the
// platform PKI recording into it.
var env struct {
	pg       *testenv.Postgres
	ca       *pki.PKI
	accounts *account.Service
}

// testArgon2 keeps the many hashes of these tests fast; the cost is stored
// with every hash, so it is exercised all the same.
var testArgon2 = Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	if env.pg, err = testenv.StartPostgres(ctx, "person"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.pg.Close()
	dir, err := os.MkdirTemp("", "vellum-person-pki-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if env.ca, err = pki.LoadOrCreate(ctx, dir, "http://127.0.0.1:9", pki.WithStore(pki.NewDBStore(env.pg.DB))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.accounts = account.NewService(env.pg.DB)
	return m.Run()
}

// testKeyring returns a fresh software keyring.
func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	return &Keyring{KEK: randomKEK(t), Recovery: randomKEK(t)}
}

func randomKEK(t testing.TB) *AEADKey {
	t.Helper()
	s, err := NewKEKString()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKEK(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixture is a service and a scope of its own for one test.
type fixture struct {
	svc   *Service
	scope account.Scope
	clock *testenv.Clock
	keys  *Keyring
}

// keyrings holds one keyring for the whole package: every test shares
// the database, whose key checks pin the first keyring that stores a key.
var sharedKeys struct {
	once sync.Once
	k    *Keyring
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	sharedKeys.once.Do(func() { sharedKeys.k = testKeyring(t) })
	return newFixtureWith(t, sharedKeys.k)
}

func newFixtureWith(t testing.TB, keys *Keyring) *fixture {
	t.Helper()
	ctx := context.Background()
	a, err := env.accounts.CreateAccount(ctx, "Tenant "+t.Name(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{scope: account.Scope{AccountID: a.ID, Environment: account.Test}, clock: &testenv.Clock{}, keys: keys}
	if f.svc, err = NewService(env.pg.DB, env.ca, keys, Config{Argon2: testArgon2, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	return f
}

var personSeq struct {
	sync.Mutex
	n int
}

// person creates a person with a unique address.
func (f *fixture) person(t testing.TB, password string) *Person {
	t.Helper()
	personSeq.Lock()
	personSeq.n++
	n := personSeq.n
	personSeq.Unlock()
	p, err := f.svc.Create(context.Background(), f.scope, CreateInput{
		UniqueID: fmt.Sprintf("person%d@uni.localhost", n), Email: fmt.Sprintf("person.%d.%d@example.com", n, time.Now().UnixNano()),
		Name: "Aigul Akhmetova", NationalID: "123456789012", Password: password,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// issue gives p a platform-issued certificate with pin.
func (f *fixture) issue(t testing.TB, p *Person, pin string) *Certificate {
	t.Helper()
	c, err := f.svc.IssueCertificate(context.Background(), f.scope, p.ID, IssueInput{PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
