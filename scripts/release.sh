#!/usr/bin/env bash
# Builds the release binaries: static linux/amd64 and linux/arm64, stamped
# with the version, commit and build time, and their SHA-256 checksums.
#
#   scripts/release.sh [version] [arch...]    default: git describe; amd64 arm64
#
# SQLite is C, so each binary is built with cgo and linked statically
# (glibc's static libc; the service resolves no user names and no host
# names through NSS: osusergo and netgo keep Go's own). arm64 needs
# Debian's cross compiler: apt-get install gcc-aarch64-linux-gnu.
# Output: dist/buzzmirror-<version>-linux-<arch> and dist/SHA256SUMS.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
shift || true
arches=${*:-amd64 arm64}
commit=$(git rev-parse HEAD 2>/dev/null || echo "")
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/buzzmirror/buzzmirror/internal/buildinfo
mkdir -p dist
for arch in $arches; do
  case $arch in
    amd64) cc=${CC_AMD64:-gcc} ;;
    arm64) cc=${CC_ARM64:-aarch64-linux-gnu-gcc} ;;
    *) echo "release: unknown arch $arch (want amd64 or arm64)" >&2; exit 2 ;;
  esac
  if ! command -v "$cc" >/dev/null; then
    echo "release: $arch needs the C compiler $cc (Debian: apt-get install gcc-aarch64-linux-gnu)" >&2
    exit 1
  fi
  out=dist/buzzmirror-$version-linux-$arch
  CGO_ENABLED=1 GOOS=linux GOARCH=$arch CC=$cc go build -trimpath -buildvcs=false \
    -tags 'osusergo netgo sqlite_omit_load_extension' \
    -ldflags "-s -w -linkmode external -extldflags '-static' -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.built=$built" \
    -o "$out" .
  echo "built $out"
done
(cd dist && sha256sum buzzmirror-"$version"-linux-* > SHA256SUMS && cat SHA256SUMS)
