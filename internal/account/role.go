package account

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a key may do on the RemSig surface (RemSig's roles).
type Role string

// Roles. A key without any has all of them.
const (
	RoleUser    Role = "USER"
	RoleSigner  Role = "SIGNER"
	RoleManager Role = "MANAGER"
)

// AllRoles lists the roles in the order they are shown.
var AllRoles = []Role{RoleUser, RoleSigner, RoleManager}

// ParseRoles checks a list of role names and returns it in canonical order
// without duplicates.
func ParseRoles(names []string) ([]Role, error) {
	var out []Role
	for _, n := range names {
		r := Role(n)
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("role %q: must be one of USER, SIGNER, MANAGER", n)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Role) int { return slices.Index(AllRoles, a) - slices.Index(AllRoles, b) })
	return out, nil
}

// RoleList returns the key's roles: all of them when none was set.
func (k *Key) RoleList() []Role {
	if k.Roles == "" {
		return slices.Clone(AllRoles)
	}
	var out []Role
	for _, r := range strings.Split(k.Roles, ",") {
		out = append(out, Role(r))
	}
	return out
}

// HasRole reports whether the key may act in role r.
func (k *Key) HasRole(r Role) bool { return slices.Contains(k.RoleList(), r) }

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}
