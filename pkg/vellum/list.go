package vellum

import (
	"context"
	"iter"
	"maps"
	"net/url"
	"strconv"
	"time"
)

// ListParams are the paging, sorting and date filters every list takes.
//
// Lists page by offset. Objects created or deleted during a walk can shift
// a row past a page boundary (seen twice, or not at all); sort by
// "createdAt" with CreatedTo set for a stable walk. The API pages no further
// than offset 100,000: walk larger sets in CreatedFrom/CreatedTo windows.
type ListParams struct {
	// PageSize is how many objects each request fetches (1…1000, default 100).
	PageSize int
	// Sort names the fields to sort by, each prefixed with - for
	// descending, e.g. []string{"-createdAt"} (the default).
	Sort []string
	// CreatedFrom and CreatedTo, when not zero, keep only objects created
	// in that interval (inclusive).
	CreatedFrom, CreatedTo time.Time
}

func (p *ListParams) values() url.Values {
	q := url.Values{}
	if p == nil {
		return q
	}
	if p.PageSize > 0 {
		q.Set("limit", strconv.Itoa(p.PageSize))
	}
	for _, s := range p.Sort {
		q.Add("sort", s)
	}
	if !p.CreatedFrom.IsZero() {
		q.Set("createdDateFrom", p.CreatedFrom.Format(time.RFC3339Nano))
	}
	if !p.CreatedTo.IsZero() {
		q.Set("createdDateTo", p.CreatedTo.Format(time.RFC3339Nano))
	}
	return q
}

// page is the API's list envelope: {limit, offset, count, total, data}.
type page[T any] struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Count  int `json:"count"`
	Total  int `json:"total"`
	Data   []T `json:"data"`
}

// list walks every page of path with offset and limit, fetching the next
// page only when the caller asks for more.
func list[T any](ctx context.Context, c *Client, path string, q url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		q := maps.Clone(q) // each walk pages on its own
		offset := 0
		for {
			q.Set("offset", strconv.Itoa(offset))
			var p page[T]
			if err := c.getJSON(ctx, path, q, &p); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, v := range p.Data {
				if !yield(v, nil) {
					return
				}
			}
			offset += len(p.Data)
			if len(p.Data) == 0 || offset >= p.Total {
				return
			}
		}
	}
}
