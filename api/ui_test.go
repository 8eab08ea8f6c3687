package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestInspectorPages renders every page on the fixture, through the
// router, as a reader with a token would.
func TestInspectorPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{Tokens: []string{"tok"}})
		toolFixture(t, s)
		s.deliver(t, eventAt("e30", "contact.created", 30, map[string]any{"contactId": "cnt_x", "name": `<script>alert("x")</script>`}))
		bearer := http.Header{"Authorization": {"Bearer tok"}}
		for target, wants := range map[string][]string{
			"/ui/":                              {"Overview", "unusable data: data.tags", "131047", "Events received per minute"},
			"/ui/events?status=failed":          {"e12", "unusable data"},
			"/ui/events?type=contact.created":   {"e01", "e02"},
			"/ui/events/e04":                    {"message.received", `href="/ui/messages/msg_1"`, `href="/ui/conversations/conv_1"`, `href="/ui/contacts/cnt_1"`, "&#34;body&#34;: &#34;Hello&#34;"},
			"/ui/conversations?awaiting=yes":    {"No conversation matches."},
			"/ui/conversations?status=resolved": {"conv_1"},
			"/ui/conversations/conv_1":          {"Opened", "Resolved", "msg_1", "msg_2", "Amira Ben Salah"},
			"/ui/messages/msg_5":                {"131047", "re-engagement window closed", `href="/ui/conversations/conv_3"`},
			"/ui/contacts?q=amira":              {"cnt_1"},
			"/ui/contacts/cnt_1":                {"vip", "newsletter", "conv_1", "run_1"},
			"/ui/contacts/cnt_x":                {"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"},
		} {
			rec := s.do(t, http.MethodGet, target, nil, bearer)
			if rec.Code != http.StatusOK {
				t.Errorf("%s: %d", target, rec.Code)
				continue
			}
			body := rec.Body.String()
			for _, want := range wants {
				if !strings.Contains(body, want) {
					t.Errorf("%s lacks %q", target, want)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("%s carries a script", target)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s: CSP %q", target, csp)
			}
		}
		// Find by id goes to whatever has it.
		for id, where := range map[string]string{"e04": "/ui/events/e04", "msg_3": "/ui/messages/msg_3", "conv_2": "/ui/conversations/conv_2", "cnt_2": "/ui/contacts/cnt_2"} {
			rec := s.do(t, http.MethodGet, "/ui/find?id="+id, nil, bearer)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != where {
				t.Errorf("find %s: %d %s", id, rec.Code, rec.Header().Get("Location"))
			}
		}
		if rec := s.do(t, http.MethodGet, "/ui/messages/nope", nil, bearer); rec.Code != http.StatusNotFound {
			t.Errorf("unknown message: %d", rec.Code)
		}
	})
}

func TestInspectorNeedsAToken(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{Tokens: []string{"tok"}})
	fixture(t, s)
	// A browser goes to the sign-in form; a script gets 401; neither the data.
	rec := s.do(t, http.MethodGet, "/ui/contacts/cnt_1", nil, http.Header{"Accept": {"text/html"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/sign-in?next="+url.QueryEscape("/ui/contacts/cnt_1") {
		t.Errorf("a browser without a token: %d %v", rec.Code, rec.Header())
	}
	rec = s.do(t, http.MethodGet, "/ui/contacts/cnt_1", nil, nil)
	if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "Amira") {
		t.Errorf("a script without a token: %d", rec.Code)
	}
	if rec := s.do(t, http.MethodGet, "/ui/", nil, http.Header{"Authorization": {"Bearer nope"}}); rec.Code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", rec.Code)
	}
	// Signing in with a wrong token fails; with a right one sets a cookie
	// that opens the pages and goes where the reader was going.
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	rec = s.do(t, http.MethodPost, "/ui/sign-in", []byte("token=nope&next=%2Fui%2F"), form)
	if rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
		t.Errorf("sign in with a wrong token: %d %v", rec.Code, rec.Result().Cookies())
	}
	rec = s.do(t, http.MethodPost, "/ui/sign-in", []byte("token=tok&next="+url.QueryEscape("/ui/contacts/cnt_1")), form)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/contacts/cnt_1" || len(cookies) != 1 {
		t.Fatalf("sign in: %d %v %v", rec.Code, rec.Header(), cookies)
	}
	ck := cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || strings.Contains(ck.Value, "tok") {
		t.Errorf("cookie: %+v", ck)
	}
	rec = s.do(t, http.MethodGet, "/ui/contacts/cnt_1", nil, http.Header{"Cookie": {ck.Name + "=" + ck.Value}})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Amira") {
		t.Errorf("with the cookie: %d", rec.Code)
	}
	// A sign-in never sends the reader to another site.
	rec = s.do(t, http.MethodPost, "/ui/sign-in", []byte("token=tok&next="+url.QueryEscape("//evil.example/ui/")), form)
	if rec.Header().Get("Location") != "/ui/" {
		t.Errorf("open redirect: %s", rec.Header().Get("Location"))
	}
	// Nothing writes: other methods are refused.
	if rec := s.do(t, http.MethodPost, "/ui/contacts/cnt_1", nil, http.Header{"Authorization": {"Bearer tok"}}); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST a page: %d", rec.Code)
	}
}
