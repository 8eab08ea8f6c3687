package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/buzzmirror/buzzmirror/models"
)

// GORM's Find allocates a fresh value for every column of every row before
// it sets the field; on a list of 50 contacts that was 40 % of the query's
// CPU (go test -bench HotQueries/sqlite/ListContacts ./store). The read
// path scans each column straight into its field (the writer's loads use
// the hand-written tables of tables.go).

// columnFields maps each column name to the field GORM stores it in.
func columnFields(s *schema.Schema, columns []string) ([]*schema.Field, error) {
	fields := make([]*schema.Field, len(columns))
	for i, c := range columns {
		if fields[i] = s.LookUpField(c); fields[i] == nil {
			return nil, fmt.Errorf("store: column %s has no field in %s", c, s.Name)
		}
	}
	return fields, nil
}

// fieldPointers fills dst with the addresses of row's fields.
func fieldPointers(fields []*schema.Field, row reflect.Value, dst []any) {
	for i, f := range fields {
		dst[i] = f.ReflectValueOf(context.Background(), row).Addr().Interface()
	}
}

// schemaOf is GORM's (cached) schema of T.
func schemaOf[T any](g *gorm.DB) (*schema.Schema, error) {
	st := &gorm.Statement{DB: g}
	if err := st.Parse(new(T)); err != nil {
		return nil, err
	}
	return st.Schema, nil
}

// findAll runs q and reads its rows into values of T, at most capacity of
// them expected.
func findAll[T any](q *gorm.DB, capacity int) ([]T, error) {
	s, err := schemaOf[T](q)
	if err != nil {
		return nil, err
	}
	rows, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	fields, err := columnFields(s, columns)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, capacity)
	dst := make([]any, len(fields))
	for rows.Next() {
		out = append(out, *new(T))
		fieldPointers(fields, reflect.ValueOf(&out[len(out)-1]).Elem(), dst)
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// contactPrefix marks the columns of a row's contact in a joined list.
const contactPrefix = "contact__"

// findWithContacts runs the list query page, which must select a
// contact_id column, and reads its rows into values of T as findAll does;
// the contacts they name come in the same query, by a LEFT JOIN on the
// page (ordered again by outer, the page's order on its alias p), and go
// into contacts by id. An expanded list thus costs one query, not one for
// the page and one for its contacts.
func findWithContacts[T any](page *gorm.DB, outer string, capacity int, contacts map[string]*models.Contact) ([]T, error) {
	s, err := schemaOf[T](page)
	if err != nil {
		return nil, err
	}
	cs, err := schemaOf[models.Contact](page)
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, f := range cs.Fields {
		if f.DBName != "" && f.DBName != versionsColumn {
			cols = append(cols, "c."+f.DBName+" AS "+contactPrefix+f.DBName)
		}
	}
	q := page.Session(&gorm.Session{NewDB: true}).Table("(?) AS p", page).
		Select("p.*, " + strings.Join(cols, ", ")).
		Joins("LEFT JOIN contacts c ON c.id = p.contact_id").
		Order(outer)
	rows, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	// The row's own columns come first, then its contact's. A contact's
	// column is scanned through a pointer to a pointer to its field's
	// type, which Scan sets anew for every row: nil for the LEFT JOIN's
	// NULLs.
	own := 0
	for own < len(columns) && !strings.HasPrefix(columns[own], contactPrefix) {
		own++
	}
	fields, err := columnFields(s, columns[:own])
	if err != nil {
		return nil, err
	}
	contactFields, err := columnFields(cs, trimPrefix(columns[own:], contactPrefix))
	if err != nil {
		return nil, err
	}
	held := make([]reflect.Value, len(contactFields))
	dst := make([]any, len(columns))
	for i, f := range contactFields {
		held[i] = reflect.New(reflect.PointerTo(f.FieldType))
		dst[own+i] = held[i].Interface()
	}
	out := make([]T, 0, capacity)
	for rows.Next() {
		out = append(out, *new(T))
		fieldPointers(fields, reflect.ValueOf(&out[len(out)-1]).Elem(), dst[:own])
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		c := new(models.Contact)
		cv := reflect.ValueOf(c).Elem()
		for i, f := range contactFields {
			if v := held[i].Elem(); !v.IsNil() {
				f.ReflectValueOf(context.Background(), cv).Set(v.Elem())
			}
		}
		if c.ID != "" {
			contacts[c.ID] = c
		}
	}
	return out, rows.Err()
}

// trimPrefix is columns without prefix.
func trimPrefix(columns []string, prefix string) []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = strings.TrimPrefix(c, prefix)
	}
	return out
}
