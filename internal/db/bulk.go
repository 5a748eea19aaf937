package db

import (
	"context"
	"fmt"
	"strings"
)

// LockSQL is the clause ending a raw SELECT that locks the rows it returns
// (FOR UPDATE, with SKIP LOCKED so concurrent pollers share a queue) on
// PostgreSQL, and nothing on SQLite, which serialises writers itself.
func (d *DB) LockSQL(skipLocked bool) string {
	switch {
	case d.dialect != Postgres:
		return ""
	case skipLocked:
		return " FOR UPDATE SKIP LOCKED"
	default:
		return " FOR UPDATE"
	}
}

// Column is a column a bulk update sets, with its PostgreSQL type (the
// parameters of a VALUES list need one).
type Column struct {
	Name, Type string
}

// UpdateEach updates many rows of table, each with its own values, and
// returns the keys of the rows it changed. Each row of values holds the
// key (column key, of type text) and then one value per column of set;
// fixed holds assignments shared by all rows (column = value). Only rows
// meeting where (on table's own columns, with whereArgs) change. On
// PostgreSQL this is one statement (UPDATE … FROM VALUES … RETURNING); on
// SQLite one UPDATE per row, in the caller's transaction.
func (d *DB) UpdateEach(ctx context.Context, table, key string, set []Column, values [][]any,
	fixed map[string]any, where string, whereArgs ...any) ([]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	fixedCols := make([]string, 0, len(fixed))
	for c := range fixed {
		fixedCols = append(fixedCols, c)
	}
	if d.dialect != Postgres {
		var keys []string
		for _, row := range values {
			var sb strings.Builder
			args := make([]any, 0, len(row)+len(fixed)+len(whereArgs))
			sb.WriteString("UPDATE " + table + " SET ")
			for i, c := range set {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(c.Name + " = ?")
				args = append(args, row[i+1])
			}
			for _, c := range fixedCols {
				sb.WriteString(", " + c + " = ?")
				args = append(args, fixed[c])
			}
			sb.WriteString(" WHERE " + key + " = ? AND (" + where + ")")
			args = append(append(args, row[0]), whereArgs...)
			res := d.Conn(ctx).Exec(sb.String(), args...)
			if res.Error != nil {
				return nil, fmt.Errorf("update %s %v: %w", table, row[0], res.Error)
			}
			if res.RowsAffected > 0 {
				keys = append(keys, fmt.Sprint(row[0]))
			}
		}
		return keys, nil
	}
	// The VALUES columns are named v_<column> so that where's unqualified
	// names mean the table's own.
	var sb strings.Builder
	args := make([]any, 0, len(values)*(len(set)+1)+len(fixed)+len(whereArgs))
	sb.WriteString("UPDATE " + table + " SET ")
	for i, c := range set {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(c.Name + " = v.v_" + c.Name)
	}
	for _, c := range fixedCols {
		sb.WriteString(", " + c + " = ?")
		args = append(args, fixed[c])
	}
	sb.WriteString(" FROM (VALUES ")
	for r, row := range values {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?::text")
		for _, c := range set {
			sb.WriteString(", ?::" + c.Type)
		}
		sb.WriteString(")")
		args = append(args, row...)
	}
	sb.WriteString(") AS v(v_" + key)
	for _, c := range set {
		sb.WriteString(", v_" + c.Name)
	}
	sb.WriteString(") WHERE " + table + "." + key + " = v.v_" + key + " AND (" + where + ") RETURNING " + table + "." + key)
	args = append(args, whereArgs...)
	var keys []string
	if err := d.Conn(ctx).Raw(sb.String(), args...).Scan(&keys).Error; err != nil {
		return nil, fmt.Errorf("update %s: %w", table, err)
	}
	return keys, nil
}
