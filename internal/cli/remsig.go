package cli

import "github.com/vellum-sign/vellum/internal/httpapi/remsig"

// remsigDeps builds the RemSig surface's dependencies.
func (a *app) remsigDeps() remsig.Deps {
	return remsig.Deps{Accounts: a.accounts, Persons: a.persons, PublicURL: a.cfg.PublicURL,
		MaxRequestBytes: a.cfg.MaxUploadBytes + 1<<20}
}
