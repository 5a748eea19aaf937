package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/testenv"
)

// TestMigrations_BothDialectsBuildTheSameSchema applies every PostgreSQL and
// every SQLite migration to empty databases and compares what they built:
// tables, columns with their mapped types, nullability and defaults,
// primary keys, indexes (unique or not, columns in order, partial
// predicate), foreign keys with their actions and CHECK constraints. `vellum dev` runs on SQLite; a difference here is
// a behaviour dev has and production lacks, or the other way round.
func TestMigrations_BothDialectsBuildTheSameSchema(t *testing.T) {
	ctx := context.Background()
	p, err := testenv.StartPostgres(ctx, "db_schema")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s, err := db.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pgSchema, err := postgresSchema(ctx, p.DB)
	if err != nil {
		t.Fatal(err)
	}
	liteSchema, err := sqliteSchema(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(pgSchema) < 10 {
		t.Fatalf("only %d schema facts read from PostgreSQL: the introspection is broken", len(pgSchema))
	}
	for _, f := range pgSchema {
		if !slices.Contains(liteSchema, f) {
			t.Errorf("only in PostgreSQL: %s", f)
		}
	}
	for _, f := range liteSchema {
		if !slices.Contains(pgSchema, f) {
			t.Errorf("only in SQLite:     %s", f)
		}
	}
}

// The schema is compared as sorted lines of facts, one per column, index,
// key and table, each in a dialect-neutral spelling.

// mappedType is the type a column holds whatever the dialect spells it.
func mappedType(declared string) string {
	t := strings.ToLower(strings.TrimSpace(declared))
	switch {
	case t == "text", strings.HasPrefix(t, "character varying"), strings.HasPrefix(t, "varchar"):
		return "text"
	case t == "integer", t == "int", t == "int4", t == "serial":
		return "integer"
	case t == "bigint", t == "int8", t == "bigserial":
		return "bigint"
	case t == "boolean", t == "bool":
		return "boolean"
	case t == "timestamp with time zone", t == "timestamptz", t == "datetime":
		// DATETIME is how the SQLite migrations spell TIMESTAMPTZ.
		return "timestamptz"
	case t == "timestamp without time zone", t == "timestamp":
		return "timestamp"
	case t == "bytea", t == "blob":
		return "bytes"
	case t == "double precision", t == "real", t == "float8":
		return "float"
	case t == "json", t == "jsonb":
		return "json"
	}
	return "unmapped(" + t + ")"
}

var castRE = regexp.MustCompile(`::[a-z ]+(\[\])?`)

// normalizeExpr spells a default or an index predicate the same way for
// both dialects: no casts, no parentheses, lower case, single spaces.
func normalizeExpr(e string) string {
	e = strings.ToLower(castRE.ReplaceAllString(e, ""))
	// PostgreSQL prints `x IN ('a', 'b')` back as `x = ANY (ARRAY['a', 'b'])`.
	e = strings.NewReplacer("= any (array[", "in (", "= any array[", "in (", "])", ")").Replace(e)
	e = strings.NewReplacer("(", "", ")", "", "\"", "").Replace(e)
	e = strings.Join(strings.Fields(e), " ")
	switch e {
	case "false":
		return "0"
	case "true":
		return "1"
	case "now", "current_timestamp":
		return "now"
	}
	return e
}

func column(table, name, typ string, notNull bool, def *string) string {
	f := fmt.Sprintf("column %s.%s %s", table, name, mappedType(typ))
	if notNull {
		f += " not null"
	}
	if def != nil {
		if strings.HasPrefix(*def, "nextval(") {
			f += " generated"
		} else {
			f += " default " + normalizeExpr(*def)
		}
	}
	return f
}

func postgresSchema(ctx context.Context, d *db.DB) ([]string, error) {
	c := d.Conn(ctx)
	var facts []string
	var cols []struct {
		TableName, ColumnName, DataType, IsNullable string
		ColumnDefault                               *string
	}
	if err := c.Raw(`SELECT table_name, column_name, data_type, is_nullable, column_default
		FROM information_schema.columns WHERE table_schema = 'public'`).Scan(&cols).Error; err != nil {
		return nil, err
	}
	for _, col := range cols {
		facts = append(facts, column(col.TableName, col.ColumnName, col.DataType, col.IsNullable == "NO", col.ColumnDefault))
	}
	var idx []struct {
		Tbl       string
		Uniq      bool
		Prim      bool
		Cols      string
		Predicate *string
	}
	if err := c.Raw(`SELECT t.relname AS tbl, ix.indisunique AS uniq, ix.indisprimary AS prim,
			(SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
			 JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) AS cols,
			pg_get_expr(ix.indpred, ix.indrelid) AS predicate
		FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = 'public'`).Scan(&idx).Error; err != nil {
		return nil, err
	}
	for _, i := range idx {
		facts = append(facts, index(i.Tbl, i.Prim, i.Uniq, i.Cols, i.Predicate))
	}
	var cons []struct {
		Tbl, Kind, Def string
	}
	if err := c.Raw(`SELECT t.relname AS tbl, co.contype AS kind, pg_get_constraintdef(co.oid) AS def
		FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = 'public' AND co.contype IN ('f', 'c')`).Scan(&cons).Error; err != nil {
		return nil, err
	}
	for _, co := range cons {
		if co.Kind == "c" {
			facts = append(facts, "check "+co.Tbl+" "+normalizeExpr(strings.TrimPrefix(co.Def, "CHECK ")))
			continue
		}
		facts = append(facts, "foreign key "+co.Tbl+" "+strings.Join(strings.Fields(strings.ToLower(co.Def)), " "))
	}
	var tables []string
	if err := c.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`).
		Scan(&tables).Error; err != nil {
		return nil, err
	}
	for _, t := range tables {
		facts = append(facts, "table "+t)
	}
	sort.Strings(facts)
	return facts, nil
}

func index(table string, primary, unique bool, cols string, predicate *string) string {
	kind := "index"
	switch {
	case primary:
		kind = "primary key"
	case unique:
		kind = "unique index"
	}
	f := fmt.Sprintf("%s %s (%s)", kind, table, strings.ReplaceAll(cols, " ", ""))
	if predicate != nil && *predicate != "" {
		f += " where " + normalizeExpr(*predicate)
	}
	return f
}

var (
	checkRE   = regexp.MustCompile(`(?i)\bCHECK\s*\(`)
	whereRE   = regexp.MustCompile(`(?is)\bWHERE\b(.*)$`)
	foreignRE = regexp.MustCompile(`(?i)^(NO ACTION|RESTRICT)$`)
)

// checkClauses returns the parenthesised expression of every CHECK in a
// CREATE TABLE statement.
func checkClauses(sql string) []string {
	var out []string
	for _, loc := range checkRE.FindAllStringIndex(sql, -1) {
		start, depth := loc[1]-1, 0
		for i := start; i < len(sql); i++ {
			switch sql[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				out = append(out, sql[start:i+1])
				break
			}
		}
	}
	return out
}

func sqliteSchema(ctx context.Context, d *db.DB) ([]string, error) {
	c := d.Conn(ctx)
	var facts []string
	var tables []struct{ Name, SQL string }
	if err := c.Raw(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&tables).Error; err != nil {
		return nil, err
	}
	for _, t := range tables {
		facts = append(facts, "table "+t.Name)
		for _, c := range checkClauses(t.SQL) {
			facts = append(facts, "check "+t.Name+" "+normalizeExpr(c))
		}
		var cols []struct {
			Cid       int
			Name      string
			Type      string
			NotNull   bool `gorm:"column:notnull"`
			DfltValue *string
			Pk        int
		}
		if err := c.Raw("SELECT * FROM pragma_table_info(?)", t.Name).Scan(&cols).Error; err != nil {
			return nil, err
		}
		var pk []string
		sort.Slice(cols, func(i, j int) bool { return cols[i].Pk < cols[j].Pk })
		for _, col := range cols {
			notNull := col.NotNull
			def := col.DfltValue
			if col.Pk > 0 {
				pk = append(pk, col.Name)
				notNull = true
				if len(cols) > 0 && strings.EqualFold(col.Type, "INTEGER") && t.SQL != "" && strings.Contains(strings.ToUpper(t.SQL), "AUTOINCREMENT") {
					g := "nextval(rowid)"
					def = &g
				}
			}
			facts = append(facts, column(t.Name, col.Name, col.Type, notNull, def))
		}
		if len(pk) > 0 {
			facts = append(facts, index(t.Name, true, true, strings.Join(pk, ","), nil))
		}
		var idx []struct {
			Seq     int
			Name    string
			Unique  bool
			Origin  string
			Partial bool
		}
		if err := c.Raw("SELECT * FROM pragma_index_list(?)", t.Name).Scan(&idx).Error; err != nil {
			return nil, err
		}
		for _, i := range idx {
			if i.Origin == "pk" {
				continue
			}
			var icols []struct {
				Seqno int
				Cid   int
				Name  *string
			}
			if err := c.Raw("SELECT * FROM pragma_index_info(?)", i.Name).Scan(&icols).Error; err != nil {
				return nil, err
			}
			sort.Slice(icols, func(a, b int) bool { return icols[a].Seqno < icols[b].Seqno })
			names := make([]string, 0, len(icols))
			for _, ic := range icols {
				if ic.Name != nil {
					names = append(names, *ic.Name)
				}
			}
			var pred *string
			if i.Partial {
				var sql string
				if err := c.Raw("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", i.Name).Scan(&sql).Error; err != nil {
					return nil, err
				}
				if m := whereRE.FindStringSubmatch(sql); m != nil {
					p := strings.TrimSpace(m[1])
					pred = &p
				}
			}
			facts = append(facts, index(t.Name, false, i.Unique, strings.Join(names, ","), pred))
		}
		var fks []struct {
			ID       int
			Seq      int
			Table    string
			From     string
			To       *string
			OnUpdate string
			OnDelete string
		}
		if err := c.Raw("SELECT * FROM pragma_foreign_key_list(?)", t.Name).Scan(&fks).Error; err != nil {
			return nil, err
		}
		byID := map[int][]int{}
		for k, fk := range fks {
			byID[fk.ID] = append(byID[fk.ID], k)
		}
		for _, ks := range byID {
			sort.Slice(ks, func(a, b int) bool { return fks[ks[a]].Seq < fks[ks[b]].Seq })
			var from, to []string
			for _, k := range ks {
				from = append(from, fks[k].From)
				if fks[k].To != nil {
					to = append(to, *fks[k].To)
				}
			}
			first := fks[ks[0]]
			def := fmt.Sprintf("foreign key (%s) references %s(%s)", strings.Join(from, ", "), first.Table, strings.Join(to, ", "))
			if !foreignRE.MatchString(first.OnUpdate) {
				def += " on update " + first.OnUpdate
			}
			if !foreignRE.MatchString(first.OnDelete) {
				def += " on delete " + first.OnDelete
			}
			facts = append(facts, "foreign key "+t.Name+" "+strings.ToLower(def))
		}
	}
	sort.Strings(facts)
	return facts, nil
}
