// Package buildinfo says which buzzmirror this is: the module version,
// commit and build time Go records in the binary, or what a release build
// stamped with -ldflags.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by scripts/release.sh with
// -ldflags "-X github.com/buzzmirror/buzzmirror/internal/buildinfo.version=v1.2.3 ...";
// empty in other builds, which take them from debug.ReadBuildInfo.
var version, commit, built string

// Info is the identity of the running binary.
type Info struct {
	Version string // module version: v1.2.3, a pseudo-version, or (devel)
	Commit  string // VCS revision, "" when unknown
	Built   string // commit time (RFC 3339), "" when unknown
	Dirty   bool   // built from a tree with uncommitted changes
	Go      string
}

// Read returns the binary's identity.
func Read() Info {
	info := Info{Version: "(devel)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Built = s.Value
			case "vcs.modified":
				info.Dirty = s.Value == "true"
			}
		}
	}
	if version != "" {
		info.Version = version
	}
	if commit != "" {
		info.Commit = commit
	}
	if built != "" {
		info.Built = built
	}
	return info
}

// String is the version line: "v1.2.3 (commit abcdef123456, built
// 2026-12-06T10:00:00Z, go1.26.8)".
func (i Info) String() string {
	s := i.Version + " ("
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += "commit " + c
		if i.Dirty {
			s += "+changes"
		}
		s += ", "
	}
	if i.Built != "" {
		s += "built " + i.Built + ", "
	}
	return s + fmt.Sprint(i.Go) + ")"
}
