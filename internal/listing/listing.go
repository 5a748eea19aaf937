// Package listing holds what every paginated list shares: the page window,
// the sort order and the created-date range, already validated by the HTTP
// layer, and the page of results with the total it was cut from.
package listing

import "time"

// MaxLimit is the largest page a client may ask for; DefaultLimit is the
// page size when it asks for none.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Query selects one page of a list.
type Query struct {
	Offset int
	Limit  int
	// Sort is the order, most significant first; each entry names a field
	// the resource allows. Ties are broken by id.
	Sort []Order
	// CreatedFrom and CreatedTo bound createdAt, inclusively, when set.
	CreatedFrom *time.Time
	CreatedTo   *time.Time
}

// Order is one sort key.
type Order struct {
	Field string // API name, e.g. "createdAt"
	Desc  bool
}

// Page is one page of results and the number of rows that matched.
type Page[T any] struct {
	Items []T
	Total int64
}

// OrderClause renders the sort as SQL for the given API-field → column map,
// ending with id in the direction of the last key so pages are stable.
// Fields missing from columns are skipped (the HTTP layer rejects them).
func (q Query) OrderClause(columns map[string]string, defaultOrder Order) string {
	sort := q.Sort
	if len(sort) == 0 {
		sort = []Order{defaultOrder}
	}
	out := ""
	desc := false
	for _, o := range sort {
		col, ok := columns[o.Field]
		if !ok {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += col
		if o.Desc {
			out += " DESC"
		}
		desc = o.Desc
	}
	if out != "" {
		out += ", "
	}
	if desc {
		return out + "id DESC"
	}
	return out + "id"
}
