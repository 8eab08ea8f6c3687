package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
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
func findAll[T any](q *gorm.DB, capacity int) ([]T, error) { return scanAll[T](q, capacity, nil) }

// contactPrefix marks the columns of a row's contact in a joined list.
const contactPrefix = "contact__"

// findWithContacts runs the list query page, which must select a
// contact_id column, and reads its rows into values of T as findAll does;
// the contacts they name come in the same query, by a LEFT JOIN on the
// page (ordered again by outer, the page's order on its alias p), and go
// into contacts by id. An expanded list thus costs one query, not one for
// the page and one for its contacts.
func findWithContacts[T any](page *gorm.DB, outer string, capacity int, contacts map[string]*models.Contact) ([]T, error) {
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
	return scanAll[T](q, capacity, contacts)
}

// scanAll runs q and reads its rows into values of T; with contacts, the
// columns from the first named with contactPrefix on are a contact's (or
// NULL), which go into contacts by id.
func scanAll[T any](q *gorm.DB, capacity int, contacts map[string]*models.Contact) ([]T, error) {
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
	own := len(columns)
	if contacts != nil {
		if i := slices.IndexFunc(columns, func(c string) bool { return strings.HasPrefix(c, contactPrefix) }); i >= 0 {
			own = i
		}
	}
	fields, err := columnFields(s, columns[:own])
	if err != nil {
		return nil, err
	}
	dst := make([]any, len(columns))
	contact, err := contactColumns(q, columns[own:], dst[own:])
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, capacity)
	for rows.Next() {
		out = append(out, *new(T))
		fieldPointers(fields, reflect.ValueOf(&out[len(out)-1]).Elem(), dst[:own])
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		if c := contact(); c != nil {
			contacts[c.ID] = c
		}
	}
	return out, rows.Err()
}

// contactColumns sets dst to where the contact columns named (with
// contactPrefix) scan, and returns what makes the scanned row's contact
// of them: nil when there are none, or they are NULL. Each column scans
// through a pointer to a pointer to its field's type, which Scan sets
// anew for every row: nil for a LEFT JOIN's NULL.
func contactColumns(q *gorm.DB, columns []string, dst []any) (func() *models.Contact, error) {
	if len(columns) == 0 {
		return func() *models.Contact { return nil }, nil
	}
	cs, err := schemaOf[models.Contact](q)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = strings.TrimPrefix(c, contactPrefix)
	}
	fields, err := columnFields(cs, names)
	if err != nil {
		return nil, err
	}
	held := make([]reflect.Value, len(fields))
	for i, f := range fields {
		held[i] = reflect.New(reflect.PointerTo(f.FieldType))
		dst[i] = held[i].Interface()
	}
	return func() *models.Contact {
		c := new(models.Contact)
		cv := reflect.ValueOf(c).Elem()
		for i, f := range fields {
			if v := held[i].Elem(); !v.IsNil() {
				f.ReflectValueOf(context.Background(), cv).Set(v.Elem())
			}
		}
		if c.ID == "" {
			return nil
		}
		return c
	}, nil
}
