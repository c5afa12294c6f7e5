#!/usr/bin/env bash
# Builds camerad and rtspsim into $1 (default bin/<goos>_<goarch>) for GOOS/GOARCH.
# Linux builds are static. Camera support (go4vl) needs cgo: cross builds use Debian's
# cross compilers (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf) when installed, and fall
# back to CGO_ENABLED=0 with a warning, in which case camerad reports camera support absent.
# REQUIRE_CGO=1 (make image) makes that an error instead: firmware that cannot drive the
# camera is not worth flashing.
set -euo pipefail
cd "$(dirname "$0")/.."
goos=${GOOS:-$(go env GOOS)}
goarch=${GOARCH:-$(go env GOARCH)}
out=${1:-bin/${goos}_${goarch}}
hostarch=$(GOOS= GOARCH= go env GOARCH)
# The version camerad reports (-version, the RTSP Server header, mDNS): VERSION, else what git
# says of the checkout (a tag, or the commit, "-dirty" with uncommitted changes).
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ldflags="-s -w -X main.version=$version"

if [[ -z ${CGO_ENABLED:-} ]]; then
	cc=""
	if [[ $goos == linux && $goarch == "$hostarch" ]]; then
		cc=${CC:-gcc}
	elif [[ $goos == linux && $goarch == arm64 ]]; then
		cc=aarch64-linux-gnu-gcc
	elif [[ $goos == linux && $goarch == arm ]]; then
		cc=arm-linux-gnueabihf-gcc
	fi
	if [[ -n $cc ]] && command -v "$cc" >/dev/null; then
		export CGO_ENABLED=1 CC=$cc
	elif [[ ${REQUIRE_CGO:-} == 1 ]]; then
		pkgs="gcc libc6-dev"
		case $goarch in
		arm64) pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
		arm) pkgs="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross" ;;
		esac
		echo "build: no C compiler for $goos/$goarch (${cc:-none known}); camera support needs one." >&2
		echo "build: install it with: sudo apt-get install $pkgs" >&2
		exit 1
	else
		echo "build: no C cross compiler for $goos/$goarch (${cc:-none known}); building without cgo: camera support will be absent" >&2
		export CGO_ENABLED=0
	fi
fi
if [[ $goos == linux && $CGO_ENABLED == 1 ]]; then
	ldflags+=" -linkmode external -extldflags -static"
fi
mkdir -p "$out"
for cmd in camerad rtspsim; do
	[[ -d cmd/$cmd ]] || continue
	GOOS=$goos GOARCH=$goarch go build -trimpath -tags netgo,osusergo -ldflags "$ldflags" -o "$out/$cmd" "./cmd/$cmd"
done
echo "build: $out (camerad $version, GOOS=$goos GOARCH=$goarch CGO_ENABLED=$CGO_ENABLED)"
