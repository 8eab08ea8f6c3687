package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var openapiYAML []byte

// openapiDocument renders the embedded document as JSON, with the webhook
// path set to the configured one.
func openapiDocument(webhookPath string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	if hook, ok := paths["/webhooks/buzzbip"]; ok && webhookPath != "/webhooks/buzzbip" {
		delete(paths, "/webhooks/buzzbip")
		paths[webhookPath] = hook
	}
	return json.Marshal(doc)
}

func serveOpenAPI(doc []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
	}
}
