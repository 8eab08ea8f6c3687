package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	gosync "sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

var (
	specOnce   gosync.Once
	specRouter routers.Router
	specErr    error
)

// spec loads, validates and routes the served document once.
func spec(t testing.TB) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/problem+json", openapi3filter.JSONBodyDecoder)
		raw, err := openapiDocument("/webhooks/buzzbip")
		if err != nil {
			specErr = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			specErr = err
			return
		}
		if specErr = doc.Validate(context.Background()); specErr != nil {
			return
		}
		doc.Servers = openapi3.Servers{{URL: "http://example.com"}} // httptest's host
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("openapi document: %v", specErr)
	}
	return specRouter
}

// validateResponse checks an answer against the document. Requests to
// paths the document does not describe are left to the route tests.
func validateResponse(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	route, params, err := spec(t).FindRoute(req)
	if err != nil || rec.Header().Get(echo.HeaderContentEncoding) != "" {
		return // compression has its own test
	}
	bodies := [][]byte{rec.Body.Bytes()}
	if rec.Header().Get(echo.HeaderContentType) == ndjson {
		if rec.Body.Len() == 0 {
			return // an export of nothing
		}
		bodies = bytes.SplitAfter(bytes.TrimSuffix(rec.Body.Bytes(), []byte("\n")), []byte("\n")) // each line one item
	}
	for _, body := range bodies {
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			},
			Status: rec.Code,
			Header: rec.Header(),
			Body:   io.NopCloser(bytes.NewReader(body)),
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %v\n%s",
				req.Method, req.URL, rec.Code, err, body)
			return
		}
	}
}

func init() {
	// The inspector's pages are HTML: any text.
	openapi3filter.RegisterBodyDecoder("text/html", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
	// A line of an export is one JSON value.
	openapi3filter.RegisterBodyDecoder(ndjson, func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		var v any
		err := json.NewDecoder(r).Decode(&v)
		return v, err
	})
}

// TestOpenAPIMatchesRoutes: every route Echo serves is in the document, and
// every operation of the document is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	served := map[string]bool{}
	for _, r := range s.echo.Routes() {
		if r.Method == "echo_route_not_found" {
			continue
		}
		path := r.Path
		if strings.HasSuffix(path, "/*") { // the inspector's files
			path = strings.TrimSuffix(path, "*") + "{file}"
		}
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served[r.Method+" "+path] = true
	}
	raw, err := openapiDocument("/webhooks/buzzbip")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, missing := range difference(served, documented) {
		t.Errorf("served but not documented: %s", missing)
	}
	for _, missing := range difference(documented, served) {
		t.Errorf("documented but not served: %s", missing)
	}
	if len(served) < 17 {
		t.Errorf("only %d routes served", len(served))
	}
}

func difference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIServedWithConfiguredWebhookPath(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{WebhookPath: "/hooks/bb"})
	rec := s.do(t, http.MethodGet, "/openapi.json", nil, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"/hooks/bb"`) || strings.Contains(rec.Body.String(), "/webhooks/buzzbip") {
		t.Fatalf("openapi.json: %d, webhook path not replaced", rec.Code)
	}
}
