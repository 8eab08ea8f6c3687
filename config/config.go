// Package config builds buzzmirror's typed configuration: defaults, then the
// YAML file, then BUZZMIRROR_* environment variables, then flags.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything the service can be told.
type Config struct {
	Listen          string        `yaml:"listen"`
	AdminListen     string        `yaml:"admin_listen"` // serves /metrics (and health) alone, when set
	MaxConnections  int           `yaml:"max_connections"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Database        Database      `yaml:"database"`
	Webhook         Webhook       `yaml:"webhook"`
	API             API           `yaml:"api"`
	CORS            CORS          `yaml:"cors"`
	Retention       Retention     `yaml:"retention"`
	Log             Log           `yaml:"log"`
}

// Database says where the mirror lives.
type Database struct {
	Driver       string `yaml:"driver"`
	DSN          string `yaml:"dsn"`
	MaxOpenConns int    `yaml:"max_open_conns"`
}

// Webhook configures the BuzzBip endpoint.
type Webhook struct {
	Path            string `yaml:"path"`
	Secret          string `yaml:"secret"` // comma-separated; any one matching is enough
	MaxBodyBytes    int64  `yaml:"max_body_bytes"`
	BodyBudgetBytes int64  `yaml:"body_budget_bytes"` // bodies held at once, beyond 64 KiB each
}

// API configures the read API.
type API struct {
	Tokens string `yaml:"tokens"` // comma-separated bearer tokens; empty leaves /v1 open
}

// CORS lets browser pages on other origins call the read API.
type CORS struct {
	Origins string `yaml:"origins"` // comma-separated origins such as https://dash.example.com; empty: none
}

// Retention says how long message bodies are kept; zero keeps them.
type Retention struct {
	MessageBodies time.Duration `yaml:"message_bodies"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default is the configuration before any file, variable or flag.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		MaxConnections:  2048,
		ShutdownTimeout: 15 * time.Second,
		Database:        Database{Driver: "sqlite", DSN: "buzzmirror.db", MaxOpenConns: 4},
		Webhook:         Webhook{Path: "/webhooks/buzzbip", MaxBodyBytes: 1 << 20, BodyBudgetBytes: 64 << 20},
		Log:             Log{Level: "info", Format: "text"},
	}
}

// setting is one key, with its YAML path, variable and flag names and a
// setter that parses text into the config.
type setting struct {
	key  string // as in the YAML file, dotted
	set  func(c *Config, v string) error
	help string
}

func (s setting) env() string {
	return "BUZZMIRROR_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(s.key))
}

func (s setting) flag() string { return strings.NewReplacer(".", "-", "_", "-").Replace(s.key) }

var settings = []setting{
	{"listen", func(c *Config, v string) error { c.Listen = v; return nil }, "address to listen on"},
	{"admin_listen", func(c *Config, v string) error { c.AdminListen = v; return nil }, "second address that alone serves /metrics (unset: /metrics on listen)"},
	{"max_connections", func(c *Config, v string) (err error) {
		c.MaxConnections, err = strconv.Atoi(v)
		return err
	}, "most connections served at once; more wait to be accepted"},
	{"shutdown_timeout", func(c *Config, v string) (err error) {
		c.ShutdownTimeout, err = time.ParseDuration(v)
		return err
	}, "how long shutdown waits for requests in flight"},
	{"database.driver", func(c *Config, v string) error { c.Database.Driver = v; return nil }, "sqlite or postgres"},
	{"database.dsn", func(c *Config, v string) error { c.Database.DSN = v; return nil }, "SQLite file path or Postgres URL"},
	{"database.max_open_conns", func(c *Config, v string) (err error) {
		c.Database.MaxOpenConns, err = strconv.Atoi(v)
		return err
	}, "connection pool size"},
	{"webhook.path", func(c *Config, v string) error { c.Webhook.Path = v; return nil }, "path BuzzBip posts to"},
	{"webhook.secret", func(c *Config, v string) error { c.Webhook.Secret = v; return nil }, "signing secrets, comma-separated (prefer the variable: flags show in ps)"},
	{"webhook.max_body_bytes", func(c *Config, v string) (err error) {
		c.Webhook.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64)
		return err
	}, "largest accepted body, inclusive"},
	{"webhook.body_budget_bytes", func(c *Config, v string) (err error) {
		c.Webhook.BodyBudgetBytes, err = strconv.ParseInt(v, 10, 64)
		return err
	}, "bytes of bodies held at once beyond the first 64 KiB of each; past it a delivery is answered 503"},
	{"api.tokens", func(c *Config, v string) error { c.API.Tokens = v; return nil }, "bearer tokens for /v1, comma-separated"},
	{"cors.origins", func(c *Config, v string) error { c.CORS.Origins = v; return nil }, "origins whose pages may call /v1 from a browser, comma-separated (scheme://host[:port])"},
	{"retention.message_bodies", func(c *Config, v string) (err error) {
		c.Retention.MessageBodies, err = time.ParseDuration(v)
		return err
	}, "remove message bodies from the journal and the mirror once their event is this old (a Go duration such as 2160h; unset keeps them)"},
	{"log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }, "debug, info, warn or error"},
	{"log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }, "text or json"},
}

// Variables lists the environment variables that configure buzzmirror.
func Variables() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.env()
	}
	return out
}

// Flags binds one flag per setting, plus --config, to a flag set.
type Flags struct {
	fs     *flag.FlagSet
	path   *string
	values map[string]*string
}

// BindFlags adds --config and the flags of the settings in sections (a
// section is a key's first part, such as database, or a whole key such as
// listen) to fs: a command offers only the flags it reads. The file and
// the environment may set every key.
func BindFlags(fs *flag.FlagSet, sections ...string) *Flags {
	f := &Flags{fs: fs, values: map[string]*string{}}
	f.path = fs.String("config", "", "YAML configuration file")
	for _, s := range settings {
		section, _, _ := strings.Cut(s.key, ".")
		if slices.Contains(sections, section) || slices.Contains(sections, s.key) {
			f.values[s.key] = fs.String(s.flag(), "", s.help+" ("+s.env()+")")
		}
	}
	return f
}

// Load builds the configuration from defaults, the --config file, the
// environment (getenv, usually os.Getenv) and the flags that were set.
func (f *Flags) Load(getenv func(string) string) (Config, error) {
	c := Default()
	if *f.path != "" {
		if err := loadFile(&c, *f.path); err != nil {
			return c, err
		}
	}
	for _, s := range settings {
		if v := getenv(s.env()); v != "" {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("config: %s=%q: %w", s.env(), v, err)
			}
		}
	}
	var err error
	f.fs.Visit(func(fl *flag.Flag) {
		for _, s := range settings {
			if f.values[s.key] != nil && fl.Name == s.flag() && err == nil {
				if e := s.set(&c, *f.values[s.key]); e != nil {
					err = fmt.Errorf("config: --%s=%q: %w", fl.Name, fl.Value, e)
				}
			}
		}
	})
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

func loadFile(c *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file configures nothing: the decoder reports io.EOF.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// Validate checks every value, naming the key of the first bad one.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %q: want host:port", c.Listen)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			return fmt.Errorf("config: admin_listen %q: want host:port", c.AdminListen)
		}
		if c.AdminListen == c.Listen {
			return fmt.Errorf("config: admin_listen %q: must differ from listen", c.AdminListen)
		}
	}
	if c.MaxConnections < 16 || c.MaxConnections > 1_000_000 {
		return fmt.Errorf("config: max_connections %d: want 16 to 1000000", c.MaxConnections)
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("config: shutdown_timeout must be positive")
	}
	switch c.Database.Driver {
	case "sqlite", "postgres":
	default:
		return fmt.Errorf("config: database.driver %q: want sqlite or postgres", c.Database.Driver)
	}
	if c.Database.DSN == "" {
		return errors.New("config: database.dsn is empty")
	}
	if c.Database.MaxOpenConns < 1 || c.Database.MaxOpenConns > 1000 {
		return fmt.Errorf("config: database.max_open_conns %d: want 1 to 1000", c.Database.MaxOpenConns)
	}
	if !strings.HasPrefix(c.Webhook.Path, "/") || strings.HasPrefix(c.Webhook.Path, "/v1/") ||
		strings.ContainsAny(c.Webhook.Path, "?#:* ") || c.Webhook.Path == "/" {
		return fmt.Errorf("config: webhook.path %q: want an absolute path outside /v1, without ? # : * or spaces", c.Webhook.Path)
	}
	if c.Webhook.MaxBodyBytes < 1 || c.Webhook.MaxBodyBytes > 64<<20 {
		return fmt.Errorf("config: webhook.max_body_bytes %d: want 1 to %d", c.Webhook.MaxBodyBytes, 64<<20)
	}
	if c.Webhook.BodyBudgetBytes < c.Webhook.MaxBodyBytes || c.Webhook.BodyBudgetBytes > 1<<40 {
		return fmt.Errorf("config: webhook.body_budget_bytes %d: want at least webhook.max_body_bytes (%d)", c.Webhook.BodyBudgetBytes, c.Webhook.MaxBodyBytes)
	}
	if strings.TrimSpace(c.API.Tokens) != "" && len(c.Tokens()) == 0 {
		return errors.New("config: api.tokens holds no token (only commas and spaces): set tokens, or leave it empty to leave /v1 open")
	}
	for _, o := range c.Origins() {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("config: cors.origins %q: %w", o, err)
		}
	}
	if c.Retention.MessageBodies < 0 || (c.Retention.MessageBodies > 0 && c.Retention.MessageBodies < time.Hour) {
		return fmt.Errorf("config: retention.message_bodies %s: want at least 1h, or 0 to keep bodies", c.Retention.MessageBodies)
	}
	if _, err := c.LogLevel(); err != nil {
		return err
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("config: log.format %q: want text or json", c.Log.Format)
	}
	return nil
}

// RequireSecret fails unless at least one webhook secret is configured: the
// service never accepts unsigned events.
func (c Config) RequireSecret() error {
	if len(c.Secrets()) == 0 {
		return errors.New("config: webhook.secret is empty: set BUZZMIRROR_WEBHOOK_SECRET to the signing secret BuzzBip shows (buzzmirror never accepts unsigned events)")
	}
	return nil
}

// WeakSecrets lists how many configured secrets are shorter than 16
// bytes, which serve warns about.
func (c Config) WeakSecrets() int {
	n := 0
	for _, s := range c.Secrets() {
		if len(s) < 16 {
			n++
		}
	}
	return n
}

// Secrets lists the webhook secrets.
func (c Config) Secrets() []string { return splitList(c.Webhook.Secret) }

// Tokens lists the API bearer tokens.
func (c Config) Tokens() []string { return splitList(c.API.Tokens) }

// Origins lists the CORS origins.
func (c Config) Origins() []string { return splitList(c.CORS.Origins) }

// checkOrigin accepts an origin as a browser sends it: scheme, host and
// port, nothing more; or * for any origin.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want scheme://host[:port], such as https://dash.example.com, without a path or a trailing /")
	}
	return nil
}

// LogLevel parses log.level.
func (c Config) LogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return l, fmt.Errorf("config: log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	return l, nil
}

// splitList splits on commas and trims spaces, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
