package person

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/validation"
)

func fieldsOf(err error) map[string]string {
	var ve validation.Errors
	if !errors.As(err, &ve) {
		return nil
	}
	out := map[string]string{}
	for _, f := range ve {
		out[f.Field] = f.Reason
	}
	return out
}

func TestCreate_RefusesBadFieldsAllAtOnce(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		in     CreateInput
		fields []string
	}{
		{"everything missing", CreateInput{}, []string{"uniqueId", "email", "name"}},
		{"bad e-mail and short password", CreateInput{UniqueID: "u1", Email: "Ada <ada@example.com>", Name: "Ada", Password: "short"}, []string{"email", "password"}},
		{"NUL and control characters", CreateInput{UniqueID: "u\x00", Email: "a@example.com", Name: "A\x07da"}, []string{"uniqueId", "name"}},
		{"surrounding whitespace", CreateInput{UniqueID: " u", Email: "a@example.com", Name: "Ada "}, []string{"uniqueId", "name"}},
		{"national id with symbols", CreateInput{UniqueID: "u", Email: "a@example.com", Name: "Ada", NationalID: "12;DROP"}, []string{"nationalId"}},
		{"invalid UTF-8", CreateInput{UniqueID: "u", Email: "a@example.com", Name: "\xff"}, []string{"name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Create(context.Background(), f.scope, tc.in)
			got := fieldsOf(err)
			if len(got) != len(tc.fields) {
				t.Fatalf("invalid fields %v, want exactly %v (err %v)", got, tc.fields, err)
			}
			for _, name := range tc.fields {
				if got[name] == "" {
					t.Errorf("no reason for %s: %v", name, got)
				}
			}
		})
	}
}

func TestCreate_UniqueIDPerScopeAndEmailAcrossTheDeployment(t *testing.T) {
	ctx := context.Background()
	f, other := newFixture(t), newFixture(t)
	p := f.person(t, "")
	if p.Number < 1 || p.Version != 1 {
		t.Fatalf("new person: number %d version %d", p.Number, p.Version)
	}
	_, err := f.svc.Create(ctx, f.scope, CreateInput{UniqueID: p.UniqueID, Email: "fresh." + p.Email, Name: "X"})
	if !errors.Is(err, ErrUniqueIDTaken) {
		t.Errorf("same uniqueId in the scope: %v, want ErrUniqueIDTaken", err)
	}
	// Another account may use the uniqueId, but not the address, in any case.
	if _, err := other.svc.Create(ctx, other.scope, CreateInput{UniqueID: p.UniqueID, Email: strings.ToUpper(p.Email), Name: "X"}); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("same address in another account: %v, want ErrEmailTaken", err)
	}
	q, err := other.svc.Create(ctx, other.scope, CreateInput{UniqueID: p.UniqueID, Email: "other." + p.Email, Name: "X"})
	if err != nil {
		t.Fatalf("same uniqueId in another account: %v", err)
	}
	if _, err := f.svc.Get(ctx, f.scope, q.ID); !errors.Is(err, ErrPersonNotFound) {
		t.Errorf("another account's person: %v, want ErrPersonNotFound", err)
	}
}

func TestAuthenticate_OneAnswerAndTheSameWorkForEveryFailure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "correct horse battery")
	disabled := f.person(t, "correct horse battery")
	yes := true
	if _, err := f.svc.Update(ctx, f.scope, disabled.ID, Patch{Disabled: &yes}, nil); err != nil {
		t.Fatal(err)
	}
	noPassword := f.person(t, "")

	got, err := f.svc.Authenticate(ctx, strings.ToUpper(p.Email), "correct horse battery")
	if err != nil || got.ID != p.ID {
		t.Fatalf("right password: %v %v", got, err)
	}
	// The dummy hash has exactly the parameters of a real one, so its
	// verification costs the same.
	if strings.Split(f.svc.dummyHash, "$")[3] != strings.Split(p.PasswordHash, "$")[3] {
		t.Fatalf("dummy hash parameters %q differ from a real hash's %q", f.svc.dummyHash, p.PasswordHash)
	}
	for _, tc := range []struct{ name, email, password string }{
		{"unknown address", "nobody@example.com", "correct horse battery"},
		{"wrong password", p.Email, "wrong horse battery"},
		{"disabled person", disabled.Email, "correct horse battery"},
		{"person without a password", noPassword.Email, "anything at all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.svc.hash.computations.Load()
			_, err := f.svc.Authenticate(ctx, tc.email, tc.password)
			if !errors.Is(err, ErrBadCredentials) || err.Error() != ErrBadCredentials.Error() {
				t.Errorf("error %v, want exactly ErrBadCredentials", err)
			}
			if n := f.svc.hash.computations.Load() - before; n != 1 {
				t.Errorf("%d Argon2id computations, want exactly 1 like every other failure", n)
			}
		})
	}
}

func TestUpdate_ChecksVersionAndUniqueness(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p, q := f.person(t, ""), f.person(t, "")
	name := "Ada Lovelace"
	if _, err := f.svc.Update(ctx, f.scope, p.ID, Patch{Name: &name}, func(v int) bool { return v == 99 }); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("stale If-Match: %v", err)
	}
	if _, err := f.svc.Update(ctx, f.scope, p.ID, Patch{Email: &q.Email}, nil); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("taking another person's address: %v", err)
	}
	got, err := f.svc.Update(ctx, f.scope, p.ID, Patch{Name: &name}, func(v int) bool { return v == 1 })
	if err != nil || got.Name != name || got.Version != 2 {
		t.Fatalf("update: %+v %v", got, err)
	}
	empty := ""
	got, err = f.svc.Update(ctx, f.scope, p.ID, Patch{NationalID: &empty}, nil)
	if err != nil || got.NationalID != "" {
		t.Fatalf("clearing the national id: %+v %v", got, err)
	}
}
