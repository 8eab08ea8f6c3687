package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
)

// ErrUnknownType marks an event whose type the projection does not know. It
// is journaled as ignored.
var ErrUnknownType = errors.New("unknown event type")

// DataError says why an event's data is unusable for its type. The event is
// journaled as failed (quarantined) with this message.
type DataError struct{ Reason string }

func (e *DataError) Error() string { return "unusable data: " + e.Reason }

// Opt is a data key that may be absent, null, or carry a value. Absent keys
// never overwrite; null is carried and clears.
type Opt[T any] struct {
	Set bool // the key was present
	Val *T   // nil for an explicit null
}

// MessageError is the error of a failed message. Code is always a string.
type MessageError struct {
	Code    *string `json:"code"`
	Message *string `json:"message"`
}

// MessageData is the mapped part of a message.* event.
type MessageData struct {
	MessageID      string
	ConversationID string
	ContactID      Opt[string]
	Channel        Opt[string]
	Body           Opt[string]
	From           Opt[string] // message.received only
	To             Opt[string]
	Error          *MessageError // message.failed only, never nil there
}

// ConversationData is the mapped part of a conversation.* event.
type ConversationData struct {
	ConversationID string
	ContactID      Opt[string]
	Channel        Opt[string]
}

// ContactData is the mapped part of a contact.* event.
type ContactData struct {
	ContactID string
	Phone     Opt[string]
	Name      Opt[string]
	Email     Opt[string]
	Tags      Opt[[]string]
	Fields    Opt[map[string]json.RawMessage]
	Extra     map[string]json.RawMessage // every key of data we do not map
}

// WorkflowData is the mapped part of a workflow.triggered event.
type WorkflowData struct {
	WorkflowID     string
	RunID          Opt[string]
	ContactID      Opt[string]
	ConversationID Opt[string]
	Source         Opt[string]
}

// Event is an envelope with its data decoded for its type; exactly one of
// the data pointers is set.
type Event struct {
	*Envelope
	Message      *MessageData
	Conversation *ConversationData
	Contact      *ContactData
	Workflow     *WorkflowData

	received time.Time // when it was journaled
}

// MaxClockLead is how far after its receipt an event may be dated. An
// event dated later would win every field it sets until the end of time.
const MaxClockLead = 24 * time.Hour

// Decode maps env's data for its type, as an event received at received.
// It returns ErrUnknownType or a *DataError when the event cannot be
// applied. The result depends on nothing else, so a rebuild, which reads
// each event's receipt time from the journal, decides as the webhook did.
func Decode(env *Envelope, received time.Time) (*Event, error) {
	ev := &Event{Envelope: env}
	if !slices.Contains(models.EventTypes, env.Type) {
		return nil, ErrUnknownType
	}
	if env.CreatedAt.After(received.Add(MaxClockLead)) {
		return nil, &DataError{fmt.Sprintf("createdAt is more than %s after the event was received (%s)",
			MaxClockLead, received.UTC().Format(time.RFC3339))}
	}
	d, err := newDataReader(env.Data)
	if err != nil {
		return nil, err
	}
	switch env.Type {
	case models.TypeMessageReceived, models.TypeMessageSent, models.TypeMessageFailed:
		m := &MessageData{
			MessageID:      d.id("messageId"),
			ConversationID: d.id("conversationId"),
			ContactID:      d.optID("contactId"),
			Channel:        d.str("channel"),
			Body:           d.str("body"),
			To:             d.str("to"),
		}
		switch env.Type {
		case models.TypeMessageReceived:
			m.From = d.str("from")
		case models.TypeMessageFailed:
			m.Error = d.messageError()
		}
		ev.Message = m
	case models.TypeConversationOpened, models.TypeConversationResolved:
		ev.Conversation = &ConversationData{
			ConversationID: d.id("conversationId"),
			ContactID:      d.optID("contactId"),
			Channel:        d.str("channel"),
		}
	case models.TypeContactCreated, models.TypeContactUpdated:
		c := &ContactData{
			ContactID: d.id("contactId"),
			Phone:     d.str("phone"),
			Name:      d.str("name"),
			Email:     d.str("email"),
			Tags:      d.tags("tags"),
			Fields:    d.object("fields"),
		}
		c.Extra = d.rest()
		ev.Contact = c
	case models.TypeWorkflowTriggered:
		ev.Workflow = &WorkflowData{
			WorkflowID:     d.id("workflowId"),
			RunID:          d.optID("runId"),
			ContactID:      d.optID("contactId"),
			ConversationID: d.optID("conversationId"),
			Source:         d.str("source"),
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return ev, nil
}

// dataReader pulls typed keys out of data, remembering the first problem
// and which keys it mapped.
type dataReader struct {
	m    map[string]json.RawMessage
	used map[string]bool
	err  error
}

func newDataReader(data json.RawMessage) (*dataReader, error) {
	if data == nil {
		return nil, &DataError{"data is missing"}
	}
	m, ok := objectMembers(data)
	if !ok {
		return nil, &DataError{"data is not an object"}
	}
	return &dataReader{m: m, used: map[string]bool{}}, nil
}

// objectMembers splits raw, a JSON value, into its members when it is an
// object, values kept raw; a key given twice keeps its last value.
func objectMembers(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !bytes.HasPrefix(raw, []byte("{")) || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

// jsonString decodes raw when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func (d *dataReader) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &DataError{fmt.Sprintf(format, args...)}
	}
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// str reads an optional string key.
func (d *dataReader) str(key string) Opt[string] {
	raw, ok := d.m[key]
	d.used[key] = true
	if !ok {
		return Opt[string]{}
	}
	if isNull(raw) {
		return Opt[string]{Set: true}
	}
	s, ok := jsonString(raw)
	if !ok {
		d.fail("data.%s must be a string or null", key)
		return Opt[string]{}
	}
	if strings.ContainsRune(s, 0) {
		d.fail("data.%s contains a NUL character", key)
		return Opt[string]{}
	}
	return Opt[string]{Set: true, Val: &s}
}

// optID reads an optional id: null, or a non-empty string of at most
// MaxIDLen bytes that escapes no lone surrogate.
func (d *dataReader) optID(key string) Opt[string] {
	o := d.str(key)
	switch {
	case o.Val != nil && (*o.Val == "" || len(*o.Val) > MaxIDLen):
		d.fail("data.%s must be 1 to %d bytes", key, MaxIDLen)
		return Opt[string]{}
	case o.Val != nil && escapesLoneSurrogate(d.m[key]):
		d.fail("data.%s escapes a lone UTF-16 surrogate, which cannot be told apart from other ids once decoded", key)
		return Opt[string]{}
	}
	return o
}

// id reads an id the type needs.
func (d *dataReader) id(key string) string {
	o := d.optID(key)
	if o.Val == nil {
		d.fail("data.%s is required", key)
		return ""
	}
	return *o.Val
}

// tags reads an array of strings; duplicates collapse, first place kept.
func (d *dataReader) tags(key string) Opt[[]string] {
	raw, ok := d.m[key]
	d.used[key] = true
	if !ok {
		return Opt[[]string]{}
	}
	if isNull(raw) {
		return Opt[[]string]{Set: true}
	}
	var list []*string
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		d.fail("data.%s must be an array of strings or null", key)
		return Opt[[]string]{}
	}
	seen := make(map[string]bool, len(list))
	tags := make([]string, 0, len(list))
	for _, t := range list {
		switch {
		case t == nil:
			d.fail("data.%s must be an array of strings or null", key)
			return Opt[[]string]{}
		case *t == "" || len(*t) > MaxIDLen || strings.ContainsRune(*t, 0):
			d.fail("data.%s: each tag must be 1 to %d bytes without NUL", key, MaxIDLen)
			return Opt[[]string]{}
		case !seen[*t]:
			seen[*t] = true
			tags = append(tags, *t)
		}
	}
	return Opt[[]string]{Set: true, Val: &tags}
}

// object reads an optional JSON object, values kept raw.
func (d *dataReader) object(key string) Opt[map[string]json.RawMessage] {
	raw, ok := d.m[key]
	d.used[key] = true
	if !ok {
		return Opt[map[string]json.RawMessage]{}
	}
	if isNull(raw) {
		return Opt[map[string]json.RawMessage]{Set: true}
	}
	obj, ok := objectMembers(raw)
	if !ok {
		d.fail("data.%s must be an object or null", key)
		return Opt[map[string]json.RawMessage]{}
	}
	return Opt[map[string]json.RawMessage]{Set: true, Val: &obj}
}

// rest returns the keys no reader asked for.
func (d *dataReader) rest() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range d.m {
		if !d.used[k] {
			out[k] = v
		}
	}
	return out
}

// messageError derives a failed message's error: the error object when
// present, else the bare reason, else both null.
func (d *dataReader) messageError() *MessageError {
	reason := d.str("reason")
	raw, ok := d.m["error"]
	d.used["error"] = true
	if !ok || isNull(raw) {
		return &MessageError{Message: reason.Val}
	}
	var obj struct {
		Code    json.RawMessage `json:"code"`
		Message *string         `json:"message"`
	}
	if !bytes.HasPrefix(raw, []byte("{")) || json.Unmarshal(raw, &obj) != nil {
		d.fail("data.error must be an object with a string message")
		return nil
	}
	if obj.Message != nil && strings.ContainsRune(*obj.Message, 0) {
		d.fail("data.error.message contains a NUL character")
		return nil
	}
	code, ok := errorCode(obj.Code)
	if !ok {
		d.fail("data.error.code must be a string, a number or null")
		return nil
	}
	return &MessageError{Code: code, Message: obj.Message}
}

// errorCode turns a code into its string: numbers become their decimal
// string (42, 4.5, 1e3 -> "1000").
func errorCode(raw json.RawMessage) (*string, bool) {
	if raw == nil || isNull(raw) {
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s, !strings.ContainsRune(s, 0)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return nil, false
	}
	text := n.String()
	if strings.ContainsAny(text, ".eE") {
		f, err := n.Float64()
		if err != nil {
			return nil, false
		}
		text = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return &text, true
}
