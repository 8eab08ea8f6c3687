package sync

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
)

// Register keys of a contact. "from" is the stub phone a contact gets from
// its newest inbound message; it stops counting once a contact event has
// set "phone".
const (
	regPhone     = "phone"
	regStubPhone = "from"
	fieldsPrefix = "fields."
	extraPrefix  = "extra."
)

func newContact(id string) func() *models.Contact {
	return func() *models.Contact {
		return &models.Contact{
			ID: id, Tags: models.JSON("[]"), Fields: models.JSON("{}"), Extra: models.JSON("{}"),
			Versions: models.Versions{},
		}
	}
}

// contact returns the contact id, created as a stub when unknown, and dates
// it by an event of time t that names it.
func (w *work) contact(id string, t time.Time) (*entry[models.Contact], error) {
	e, err := load(w, w.contacts, id, w.m.Contact, newContact(id), contactCounter)
	if err != nil {
		return nil, err
	}
	if named(&e.row.CreatedAt, t) {
		e.dirty = true
	}
	return e, nil
}

func (w *work) applyContact(ev *Event) error {
	d := ev.Contact
	e, err := w.contact(d.ContactID, ev.CreatedAt)
	if err != nil {
		return err
	}
	c, v := e.row, ev.Version()
	changed := setOpt(c.Versions, regPhone, v, d.Phone, &c.Phone)
	if changed {
		// The stub phone never counts again; dropping its register keeps
		// the row the same whichever order the events came in.
		delete(c.Versions, regStubPhone)
	}
	changed = setOpt(c.Versions, "name", v, d.Name, &c.Name) || changed
	changed = setOpt(c.Versions, "email", v, d.Email, &c.Email) || changed
	if d.Tags.Set && c.Versions.Claim("tags", v) {
		tags := []string{}
		if d.Tags.Val != nil {
			tags = *d.Tags.Val
		}
		if c.Tags, err = json.Marshal(tags); err != nil {
			return fmt.Errorf("sync: encode tags: %w", err)
		}
		w.tags[c.ID] = tags
		changed = true
	}
	if d.Fields.Set {
		var obj map[string]json.RawMessage
		if d.Fields.Val != nil {
			obj = *d.Fields.Val
		}
		fieldsChanged, err := mergeObject(&c.Fields, c.Versions, fieldsPrefix, v, obj, d.Fields.Val == nil)
		if err != nil {
			return err
		}
		changed = fieldsChanged || changed
	}
	extraChanged, err := mergeObject(&c.Extra, c.Versions, extraPrefix, v, d.Extra, false)
	if err != nil {
		return err
	}
	e.dirty = e.dirty || changed || extraChanged
	return nil
}

// mergeObject merges obj into the JSON object *doc key by key: each key is a
// register named prefix+key, and a null value removes the key. With clear,
// the whole object is emptied as of v: the register named prefix without
// its dot records when, and a key only counts when it is newer than that.
func mergeObject(doc *models.JSON, vs models.Versions, prefix, v string, obj map[string]json.RawMessage, clear bool) (bool, error) {
	if len(obj) == 0 && !clear {
		return false, nil
	}
	cur := map[string]json.RawMessage{}
	if err := json.Unmarshal(*doc, &cur); err != nil {
		return false, fmt.Errorf("sync: stored %s object is corrupt: %w", strings.TrimSuffix(prefix, "."), err)
	}
	clearKey := strings.TrimSuffix(prefix, ".")
	changed := false
	if clear && vs.Claim(clearKey, v) {
		changed = true
		for k, kv := range vs {
			if strings.HasPrefix(k, prefix) && kv < v {
				delete(vs, k)
				delete(cur, strings.TrimPrefix(k, prefix))
			}
		}
	}
	for k, val := range obj {
		if v <= vs[clearKey] || !vs.Claim(prefix+k, v) {
			continue
		}
		changed = true
		if isNull(val) {
			delete(cur, k)
		} else {
			cur[k] = val
		}
	}
	if !changed {
		return false, nil
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return false, fmt.Errorf("sync: encode %s object: %w", clearKey, err)
	}
	*doc = b
	return true, nil
}

// stubPhone gives a contact the from of an inbound message, unless a contact
// event has set its phone or a newer inbound message already did.
func stubPhone(c *models.Contact, v string, from Opt[string]) bool {
	if _, set := c.Versions[regPhone]; set {
		return false
	}
	return setOpt(c.Versions, regStubPhone, v, from, &c.Phone)
}

// finishContact derives the columns that follow from the registers.
func finishContact(c *models.Contact) {
	c.PhoneNorm, c.EmailNorm = nil, nil
	if c.Phone != nil {
		n := NormalizePhone(*c.Phone)
		c.PhoneNorm = &n
	}
	if c.Email != nil {
		e := strings.ToLower(*c.Email)
		c.EmailNorm = &e
	}
	var search []string
	for _, s := range []*string{c.Name, c.Phone, c.Email} {
		if s != nil {
			search = append(search, strings.ToLower(*s))
		}
	}
	c.Search = strings.Join(search, "\n")
	c.UpdatedAt = c.CreatedAt
	if t, ok := newestTime(c.Versions); ok {
		c.UpdatedAt = models.NewTime(t)
	}
}

// NormalizePhone removes spaces, dashes, dots and parentheses, as the phone
// filter compares numbers.
func NormalizePhone(p string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, p)
}
