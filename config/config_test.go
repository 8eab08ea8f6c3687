package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, file string, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var keys []string
	for _, s := range settings {
		keys = append(keys, s.key)
	}
	f := BindFlags(fs, keys...)
	if file != "" {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", path}, args...)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Load(func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	file := "listen: 0.0.0.0:9000\ndatabase:\n  driver: postgres\n  dsn: postgres://file\nwebhook:\n  secret: from-file\n  max_body_bytes: 10\n"
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want func(Config) bool
	}{
		{"FileOverDefaults", nil, nil, func(c Config) bool {
			return c.Listen == "0.0.0.0:9000" && c.Database.Driver == "postgres" && c.Webhook.Path == "/webhooks/buzzbip"
		}},
		{"EnvOverFile", map[string]string{"BUZZMIRROR_LISTEN": "127.0.0.1:1", "BUZZMIRROR_WEBHOOK_MAX_BODY_BYTES": "20"}, nil,
			func(c Config) bool { return c.Listen == "127.0.0.1:1" && c.Webhook.MaxBodyBytes == 20 }},
		{"FlagOverEnv", map[string]string{"BUZZMIRROR_LISTEN": "127.0.0.1:1"}, []string{"--listen", "127.0.0.1:2"},
			func(c Config) bool { return c.Listen == "127.0.0.1:2" }},
		{"CORSOrigins", map[string]string{"BUZZMIRROR_CORS_ORIGINS": "https://dash.example.com, http://localhost:3000"}, nil,
			func(c Config) bool {
				return strings.Join(c.Origins(), "|") == "https://dash.example.com|http://localhost:3000"
			}},
		{"SecretsSplit", map[string]string{"BUZZMIRROR_WEBHOOK_SECRET": " a , b,, "}, nil,
			func(c Config) bool { return strings.Join(c.Secrets(), "|") == "a|b" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, file, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Database.Driver != "sqlite" || c.Database.DSN != "buzzmirror.db" ||
		c.Webhook.Path != "/webhooks/buzzbip" || c.Webhook.MaxBodyBytes != 1048576 || c.ShutdownTimeout != 15*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.RequireSecret(); err == nil {
		t.Error("no secret must be refused")
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"BadDriver", "", map[string]string{"BUZZMIRROR_DATABASE_DRIVER": "mysql"}, "database.driver"},
		{"BadNumber", "", map[string]string{"BUZZMIRROR_WEBHOOK_MAX_BODY_BYTES": "1MB"}, "BUZZMIRROR_WEBHOOK_MAX_BODY_BYTES"},
		{"ZeroLimit", "", map[string]string{"BUZZMIRROR_WEBHOOK_MAX_BODY_BYTES": "0"}, "webhook.max_body_bytes"},
		{"BadListen", "", map[string]string{"BUZZMIRROR_LISTEN": "8080"}, "listen"},
		{"BadLevel", "", map[string]string{"BUZZMIRROR_LOG_LEVEL": "loud"}, "log.level"},
		{"BadPath", "", map[string]string{"BUZZMIRROR_WEBHOOK_PATH": "/v1/hook"}, "webhook.path"},
		{"UnknownFileKey", "webhook:\n  secrett: x\n", nil, "secrett"},
		{"BadYAML", "listen: [", nil, "config.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.file, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestExampleFileDocumentsEveryKey keeps config.example.yaml complete and
// loadable.
func TestExampleFileDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		leaf := s.key[strings.LastIndex(s.key, ".")+1:]
		if !strings.Contains(string(b), leaf+":") || !strings.Contains(string(b), s.env()) {
			t.Errorf("config.example.yaml does not document %s (%s)", s.key, s.env())
		}
	}
	if _, err := load(t, string(b), nil); err != nil {
		t.Errorf("config.example.yaml does not load: %v", err)
	}
}

func TestCORSOriginsAreOrigins(t *testing.T) {
	for _, bad := range []string{"dash.example.com", "https://dash.example.com/", "https://dash.example.com/app", "ftp://x", "https://"} {
		if _, err := load(t, "", map[string]string{"BUZZMIRROR_CORS_ORIGINS": bad}); err == nil || !strings.Contains(err.Error(), "cors.origins") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFlagsOfASection(t *testing.T) {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	BindFlags(fs, "listen", "webhook.secret")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if strings.Join(names, ",") != "config,listen,webhook-secret" {
		t.Errorf("flags %v", names)
	}
}
