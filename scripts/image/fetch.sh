#!/usr/bin/env bash
# fetch.sh: download the Debian packages the image (and the V4L2 test's kernel) are built
# from, verify them against the versions and sha256 sums pinned in a lock file, and unpack
# each into its own tree under <cache-dir>/root.
#
#   scripts/image/fetch.sh <cache-dir>           fetch + verify + unpack (what `make image` runs)
#   scripts/image/fetch.sh <cache-dir> --update  rewrite the lock with the archive's current
#                                                 candidates (a deliberate, reviewed change)
#
# DEBIAN_ARCH (default arm64) and LOCK (default scripts/image/packages.lock) choose the
# architecture and the lock: scripts/v4l2test/run.sh fetches its amd64 kernel this way.
#
# A pinned version the archive no longer has (Debian's security updates replace old kernels
# within weeks) is replaced by the archive's current one, with a warning: apt verifies it
# against Debian's signed index, and the build and tests go on. Pin it with --update.
#
# apt runs with a private configuration under <cache-dir>/apt (its own sources, lists, cache
# and an empty dpkg status), so the host's apt state and architectures are left untouched and
# nothing needs `dpkg --add-architecture`; the host need not be Debian. Works as an ordinary
# user too (apt-get download needs no root).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
arch="${DEBIAN_ARCH:-arm64}"
lock="${LOCK:-$here/packages.lock}"
cache="${1:?usage: fetch.sh <cache-dir> [--update]}"
mode="${2:-}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
suite="${DEBIAN_SUITE:-bookworm}"
keyring="/usr/share/keyrings/debian-archive-keyring.gpg"

for tool in apt-get dpkg-deb sha256sum; do
	command -v "$tool" >/dev/null || { echo "fetch.sh: $tool is required (Debian/Ubuntu host)" >&2; exit 1; }
done
[ -r "$keyring" ] || { echo "fetch.sh: $keyring missing: apt-get install debian-archive-keyring" >&2; exit 1; }

mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
aptdir="$cache/apt"
debs="$cache/debs"
roots="$cache/root"
mkdir -p "$aptdir/etc/apt.conf.d" "$aptdir/etc/preferences.d" "$aptdir/etc/sources.list.d" \
	"$aptdir/state/lists/partial" "$aptdir/cache/archives/partial" "$debs" "$roots"
touch "$aptdir/state/status"

# raspi-firmware and firmware-brcm80211 live in non-free-firmware; the kernel's security
# updates in bookworm-security.
cat >"$aptdir/etc/sources.list" <<EOF
deb [arch=$arch signed-by=$keyring] $mirror $suite main non-free-firmware
deb [arch=$arch signed-by=$keyring] $mirror $suite-updates main non-free-firmware
deb [arch=$arch signed-by=$keyring] $security $suite-security main non-free-firmware
EOF
cat >"$aptdir/apt.conf" <<EOF
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Dir::Etc "$aptdir/etc";
Dir::Etc::sourcelist "$aptdir/etc/sources.list";
Dir::Etc::sourceparts "$aptdir/etc/sources.list.d";
Dir::Etc::parts "$aptdir/etc/apt.conf.d";
Dir::Etc::preferencesparts "$aptdir/etc/preferences.d";
Dir::State "$aptdir/state";
Dir::State::status "$aptdir/state/status";
Dir::Cache "$aptdir/cache";
Acquire::Languages "none";
APT::Sandbox::User "root";
EOF
export APT_CONFIG="$aptdir/apt.conf"

# Package names and versions from the lock (comments and blank lines skipped).
mapfile -t entries < <(grep -Ev '^[[:space:]]*(#|$)' "$lock")

update_lists() {
	echo "fetch.sh: apt-get update (private $arch lists in $aptdir)"
	apt-get -q update >"$aptdir/update.log" 2>&1 || { cat "$aptdir/update.log" >&2; exit 1; }
}

# current prints the archive's current package for a locked name and its candidate version.
# The kernel's package name carries its ABI: follow the metapackage to the newest one.
current() {
	local name="$1"
	if [[ "$name" == linux-image-*-"$arch" ]]; then
		name="$(apt-cache depends "linux-image-$arch" | awk '/Depends: linux-image-/{print $2; exit}')"
	fi
	local ver
	ver="$(apt-cache policy "$name" 2>/dev/null | awk '/Candidate:/{print $2}')"
	[ -n "$name" ] && [ -n "$ver" ] && [ "$ver" != "(none)" ] || return 1
	echo "$name $ver"
}

# download fetches name=ver into $debs and prints the file's path (as apt names it: the
# package's architecture, or "all").
download() {
	(cd "$debs" && apt-get -q download "$1=$2" >"$aptdir/download.log" 2>&1) || return 1
	local f
	for f in "$debs/${1}_${2//:/%3a}_$arch.deb" "$debs/${1}_${2//:/%3a}_all.deb"; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	echo "fetch.sh: apt-get download $1=$2 gave no .deb in $debs" >"$aptdir/download.log"
	return 1
}

if [ "$mode" = "--update" ]; then
	update_lists
	tmp="$(mktemp)"
	grep -E '^[[:space:]]*#' "$lock" >"$tmp" || true
	for e in "${entries[@]}"; do
		read -r name _ _ <<<"$e"
		cur="$(current "$name")" || { echo "fetch.sh: no $name in the archive" >&2; exit 1; }
		read -r name ver <<<"$cur"
		f="$(download "$name" "$ver")" || { cat "$aptdir/download.log" >&2; exit 1; }
		echo "$name $ver $(sha256sum "$f" | cut -d' ' -f1)" >>"$tmp"
	done
	mv "$tmp" "$lock"
	echo "fetch.sh: wrote $lock"
	exit 0
fi

need_update=1
for e in "${entries[@]}"; do
	read -r name ver sum <<<"$e"
	deb="$debs/${name}_${ver//:/%3a}_pinned.deb"
	if [ ! -f "$deb" ] || [ "$(sha256sum "$deb" | cut -d' ' -f1)" != "$sum" ]; then
		[ "$need_update" = 1 ] && { update_lists; need_update=0; }
		rm -f "$debs/${name}_"*.deb
		if got="$(download "$name" "$ver")"; then
			mv "$got" "$deb"
		else
			cat "$aptdir/download.log" >&2
			cur="$(current "$name")" || { echo "fetch.sh: no $name in the archive" >&2; exit 1; }
			read -r cname cver <<<"$cur"
			echo "fetch.sh: WARNING: the pinned $name $ver is not in the archive any more (security" >&2
			echo "  updates replace old kernels); using its current $cname $cver, verified by apt" >&2
			echo "  against Debian's signed index. To pin it, run and review:" >&2
			echo "  DEBIAN_ARCH=$arch LOCK=$lock scripts/image/fetch.sh $cache --update" >&2
			got="$(download "$cname" "$cver")" || { cat "$aptdir/download.log" >&2; exit 1; }
			name="$cname" ver="$cver" sum="$(sha256sum "$got" | cut -d' ' -f1)"
			deb="$debs/${name}_${ver//:/%3a}_current.deb"
			mv "$got" "$deb"
		fi
	fi
	actual="$(sha256sum "$deb" | cut -d' ' -f1)"
	if [ "$actual" != "$sum" ]; then
		echo "fetch.sh: checksum mismatch for $name $ver: got $actual, pinned $sum" >&2
		exit 1
	fi
	if [[ "$name" == linux-image-*-"$arch" ]]; then
		# One kernel tree only: the image builder and the V4L2 test look for exactly one.
		for old in "$roots"/linux-image-*; do
			[[ "$old" == "$roots/$name" || "$old" == "$roots/$name.unpacked" ]] || rm -rf "$old"
		done
	fi
	stamp="$roots/$name.unpacked"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
		rm -rf "${roots:?}/$name"
		mkdir -p "$roots/$name"
		dpkg-deb -x "$deb" "$roots/$name"
		echo "$sum" >"$stamp"
	fi
	echo "fetch.sh: $name $ver ok"
done
