package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeExamples runs every curl line of the README's read API section
// against a service that got the quickstart's samples, as a reader would
// paste them: each must succeed and, but for the change feed, answer rows.
func TestReadmeExamples(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (CI installs it)", tool)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	section = section[strings.Index(section, "## For tool builders"):]
	section = section[:strings.Index(section, "**Keeping a copy in step")]
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "curl ") {
			lines = append(lines, line)
		}
	}
	if len(lines) < 10 {
		t.Fatalf("found %d curl lines in the README's read API section", len(lines))
	}

	s := start(t, "BUZZMIRROR_DATABASE_DSN="+filepath.Join(t.TempDir(), "readme.db"), "BUZZMIRROR_WEBHOOK_SECRET=readme-secret")
	s.run(t, "send", "--type", "all", "--id", "evt_demo")
	s.settle(t)
	dir := t.TempDir()
	redirect := regexp.MustCompile(`>\s*(\S+)\s*$`)
	for _, line := range lines {
		cmd := exec.Command("sh", "-c", "set -e; "+line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "API=http://"+s.addr)
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
			continue
		}
		if m := redirect.FindStringSubmatch(line); m != nil {
			if out, err = os.ReadFile(filepath.Join(dir, m[1])); err != nil {
				t.Errorf("%s: %v", line, err)
				continue
			}
		}
		if strings.Contains(line, "/v1/changes") {
			continue // "what changed since": nothing has
		}
		if len(strings.TrimSpace(string(out))) == 0 {
			t.Errorf("%s: nothing", line)
			continue
		}
		var page struct {
			Data   *[]json.RawMessage `json:"data"`
			Status *int               `json:"status"`
		}
		if json.Unmarshal(out, &page) == nil && (page.Status != nil || (page.Data != nil && len(*page.Data) == 0)) {
			t.Errorf("%s: no rows:\n%s", line, out)
		}
	}
}
