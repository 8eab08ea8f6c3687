package store

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
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
