package main

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/buzzmirror/buzzmirror/config"
)

// TestDeployFilesNameRealSettings parses compose.yaml and checks that the
// deployment files set only variables buzzmirror reads: a misspelt one
// would be ignored in silence.
func TestDeployFilesNameRealSettings(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	svc, ok := compose.Services["buzzmirror"]
	if !ok || svc.Environment["BUZZMIRROR_DATABASE_DRIVER"] != "postgres" {
		t.Fatalf("compose.yaml: no buzzmirror service on postgres: %+v", compose.Services)
	}
	if _, ok := compose.Services["postgres"]; !ok {
		t.Error("compose.yaml: no postgres service")
	}
	known := config.Variables()
	check := func(file, name string) {
		if !slices.Contains(known, name) {
			t.Errorf("%s sets %s, which buzzmirror does not read", file, name)
		}
	}
	for name := range svc.Environment {
		check("compose.yaml", name)
	}
	variable := regexp.MustCompile(`BUZZMIRROR_[A-Z_]+`)
	for _, file := range []string{"Containerfile", "deploy/buzzmirror.service"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range variable.FindAllString(string(raw), -1) {
			check(file, name)
		}
	}
}
