package httpapi

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/listing"
)

// maxOffset bounds how deep a client may page (as Signicat).
const maxOffset = 100000

// ListResponse is every list's envelope.
type ListResponse[T any] struct {
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
	Count  int   `json:"count"`
	Total  int64 `json:"total"`
	Data   []T   `json:"data"`
}

func toListResponse[I, T any](q listing.Query, page listing.Page[I], convert func(*I) T) ListResponse[T] {
	out := ListResponse[T]{Limit: q.Limit, Offset: q.Offset, Total: page.Total, Data: make([]T, 0, len(page.Items))}
	for i := range page.Items {
		out.Data = append(out.Data, convert(&page.Items[i]))
	}
	out.Count = len(out.Data)
	return out
}

// listParams parses the shared list parameters; extra names the
// resource's own filters, which the caller parses. Every bad parameter,
// including unknown ones, is reported.
func listParams(values url.Values, sortFields []string, extra ...string) (listing.Query, []InvalidParam) {
	q := listing.Query{Limit: listing.DefaultLimit}
	var bad []InvalidParam
	known := append([]string{"offset", "limit", "sort", "createdDateFrom", "createdDateTo"}, extra...)
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(known, k) {
			bad = append(bad, InvalidParam{Name: k, Reason: "unknown query parameter; known: " + strings.Join(known, ", ")})
		} else if len(values[k]) > 1 && k != "sort" {
			bad = append(bad, InvalidParam{Name: k, Reason: "must be given at most once"})
		}
	}
	if s := values.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxOffset {
			bad = append(bad, InvalidParam{Name: "offset", Reason: fmt.Sprintf("must be an integer from 0 to %d", maxOffset)})
		} else {
			q.Offset = n
		}
	}
	if s := values.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > listing.MaxLimit {
			bad = append(bad, InvalidParam{Name: "limit", Reason: fmt.Sprintf("must be an integer from 1 to %d", listing.MaxLimit)})
		} else {
			q.Limit = n
		}
	}
	for _, v := range values["sort"] {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			o := listing.Order{Field: s}
			switch {
			case strings.HasPrefix(s, "-"):
				o = listing.Order{Field: s[1:], Desc: true}
			case strings.HasPrefix(s, "+"):
				o.Field = s[1:]
			}
			if !slices.Contains(sortFields, o.Field) {
				bad = append(bad, InvalidParam{Name: "sort", Reason: fmt.Sprintf("%q is not a sort field; use one of %s, optionally prefixed with - for descending order",
					s, strings.Join(sortFields, ", "))})
				continue
			}
			q.Sort = append(q.Sort, o)
		}
	}
	q.CreatedFrom, bad = timeParam(values, "createdDateFrom", bad)
	q.CreatedTo, bad = timeParam(values, "createdDateTo", bad)
	if q.CreatedFrom != nil && q.CreatedTo != nil && q.CreatedFrom.After(*q.CreatedTo) {
		bad = append(bad, InvalidParam{Name: "createdDateFrom", Reason: "must not be after createdDateTo"})
	}
	return q, bad
}

func timeParam(values url.Values, name string, bad []InvalidParam) (*time.Time, []InvalidParam) {
	s := values.Get(name)
	if s == "" {
		return nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, append(bad, InvalidParam{Name: name, Reason: "must be an RFC 3339 date-time such as 2024-01-01T00:00:00Z"})
	}
	t = t.UTC()
	return &t, bad
}

func boolParam(values url.Values, name string, bad []InvalidParam) (*bool, []InvalidParam) {
	s := values.Get(name)
	if s == "" {
		return nil, bad
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		return nil, append(bad, InvalidParam{Name: name, Reason: "must be true or false"})
	}
	return &b, bad
}
