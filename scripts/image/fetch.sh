#!/usr/bin/env bash
# fetch.sh: download the Debian arm64 packages the image is built from, verify them against
# the versions and sha256 sums pinned in packages.lock, and unpack each into its own tree.
#
#   scripts/image/fetch.sh <cache-dir>           fetch + verify + unpack (what `make image` runs)
#   scripts/image/fetch.sh <cache-dir> --update  rewrite packages.lock with the archive's current
#                                                 candidates (a deliberate, reviewed change)
#
# apt runs with a private configuration under <cache-dir>/apt (its own sources, lists, cache
# and an empty dpkg status), so the host's apt state and architectures are left untouched and
# nothing needs `dpkg --add-architecture`. Works as an ordinary user too (apt-get download
# needs no root).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/packages.lock"
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
deb [arch=arm64 signed-by=$keyring] $mirror $suite main non-free-firmware
deb [arch=arm64 signed-by=$keyring] $mirror $suite-updates main non-free-firmware
deb [arch=arm64 signed-by=$keyring] $security $suite-security main non-free-firmware
EOF
cat >"$aptdir/apt.conf" <<EOF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
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
	echo "fetch.sh: apt-get update (private arm64 lists in $aptdir)"
	apt-get -q update >"$aptdir/update.log" 2>&1 || { cat "$aptdir/update.log" >&2; exit 1; }
}

if [ "$mode" = "--update" ]; then
	update_lists
	tmp="$(mktemp)"
	grep -E '^[[:space:]]*#' "$lock" >"$tmp" || true
	for e in "${entries[@]}"; do
		read -r name _ _ <<<"$e"
		# The kernel's package name carries its ABI; follow the metapackage to the newest one.
		if [[ "$name" == linux-image-*-arm64 ]]; then
			name="$(apt-cache depends linux-image-arm64 | awk '/Depends: linux-image-/{print $2; exit}')"
		fi
		ver="$(apt-cache policy "$name" | awk '/Candidate:/{print $2}')"
		(cd "$debs" && apt-get -q download "$name=$ver" >/dev/null)
		f="$(ls "$debs/${name}_"*"_"*.deb | grep -F "_${ver//:/%3a}_" | head -1)"
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
		if ! (cd "$debs" && apt-get -q download "$name=$ver" >"$aptdir/download.log" 2>&1); then
			cat "$aptdir/download.log" >&2
			echo "fetch.sh: $name=$ver is not in the archive any more (security updates replace" >&2
			echo "  old kernels). Review and run: scripts/image/fetch.sh $cache --update" >&2
			exit 1
		fi
		got="$(ls "$debs/${name}_"*.deb | head -1)"
		mv "$got" "$deb"
	fi
	actual="$(sha256sum "$deb" | cut -d' ' -f1)"
	if [ "$actual" != "$sum" ]; then
		echo "fetch.sh: checksum mismatch for $name $ver: got $actual, pinned $sum" >&2
		exit 1
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
