package httpapi

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/validation"
)

// refuseBadStrings is the HTTP half of the one check every client string
// passes (validation.CheckText): a path parameter that is not clean text
// names nothing (404); a query parameter that is not is a 400. Bodies get
// the same check in decodeObject; the stores never see NUL or invalid UTF-8.
func refuseBadStrings(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for i, name := range c.ParamNames() {
			if i < len(c.ParamValues()) && validation.CheckText(c.ParamValues()[i], validation.Line) != "" {
				if name == "*" {
					return echo.ErrNotFound
				}
				return NewProblem(http.StatusNotFound, "not_found", "no such "+name+": it is not valid text")
			}
		}
		var bad []InvalidParam
		for name, vs := range c.QueryParams() {
			if reason := validation.CheckText(name, validation.Line); reason != "" {
				bad = append(bad, InvalidParam{Name: strconv.QuoteToASCII(name), Reason: "query parameter name " + reason})
				continue
			}
			for _, v := range vs {
				if reason := validation.CheckText(v, validation.Multiline); reason != "" {
					bad = append(bad, InvalidParam{Name: name, Reason: reason})
					break
				}
			}
		}
		if len(bad) > 0 {
			return NewValidationProblem(bad)
		}
		return next(c)
	}
}

// badString finds the first string in v (strings, slices, arrays, maps
// with their keys, structs and pointers to them) that fails
// validation.CheckText as multi-line text, and says where it is relative
// to name: "documentIds[2]", "metadata.key".
func badString(name string, v reflect.Value) (string, string) {
	switch v.Kind() {
	case reflect.String:
		if reason := validation.CheckText(v.String(), validation.Multiline); reason != "" {
			return name, reason
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return badString(name, v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if n, r := badString(name+"["+strconv.Itoa(i)+"]", v.Index(i)); r != "" {
				return n, r
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if n, r := badString(name+" key", iter.Key()); r != "" {
				return n, r
			}
			key := name + "." + iter.Key().String()
			if validation.CheckText(iter.Key().String(), validation.Multiline) != "" {
				key = name
			}
			if n, r := badString(key, iter.Value()); r != "" {
				return n, r
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			if n, r := badString(name+"."+jsonName(t.Field(i)), v.Field(i)); r != "" {
				return n, r
			}
		}
	}
	return "", ""
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			tag = tag[:i]
			break
		}
	}
	if tag == "" || tag == "-" {
		return f.Name
	}
	return tag
}
