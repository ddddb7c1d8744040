#!/usr/bin/env bash
# Builds the e2e control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager, kubectl, kube-proxy) from the Go module proxy into
#   test/.cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin   (or $SVCMUX_TESTENV_BIN)
# A stamp file holds a hash of everything that decides the output (versions,
# go.mod/go.sum, the main packages, build flags), so a re-run is a no-op
# unless one of them changed. test/controlplane computes the same directory.
#
# Why from source: no Docker and no internet besides the Go module proxy, and
# it pins the exact version the tests were written against. k8s.io/kubernetes
# and etcd/server cannot be `go install`ed (replace directives in their
# go.mod), so ./k8s and ./etcd are tiny modules importing them as libraries.
set -euo pipefail

tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$tools/../.." && pwd)
# shellcheck source=versions.env
source "$tools/versions.env"
bin=${SVCMUX_TESTENV_BIN:-$root/test/.cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin}
GO=${GO:-go}
binaries=(etcd kube-apiserver kube-controller-manager kubectl kube-proxy)

# Static binaries like the official release; GOWORK=off so a developer's
# go.work cannot change what gets built; -mod=readonly so go.sum is the truth.
# -trimpath: no local paths in the binaries, same output on every machine.
export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false -trimpath"

# Give the binaries their real version instead of v0.0.0-master (as
# hack/lib/version.sh does), so `kubectl version` and /version tell the truth.
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ldk="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldk+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
lde="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"

# The stamp covers what decides the binaries: versions, module files, the
# main packages and the flags (not this script's text, so editing a comment
# here does not cost a 10-minute rebuild; a new flag does change it).
stamp=$(
	cd "$tools"
	{
		echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION"
		echo "CGO_ENABLED=$CGO_ENABLED GOFLAGS=$GOFLAGS k8s:$ldk etcd:$lde"
		cat k8s/go.mod k8s/go.sum etcd/go.mod etcd/go.sum
		find k8s etcd -name '*.go' | LC_ALL=C sort | xargs cat
	} | sha256sum | cut -d' ' -f1
)

up_to_date() {
	[[ -f $bin/.stamp && $(<"$bin/.stamp") == "$stamp" ]] || return 1
	for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
}

if up_to_date; then
	echo "testenv: up to date: $bin"
	exit 0
fi

# Serialise concurrent builds (two `make e2e` at once) on the same cache.
mkdir -p "$(dirname "$bin")"
exec 9>"$bin.lock"
if command -v flock >/dev/null; then flock 9; fi
if up_to_date; then # someone else just built it
	echo "testenv: up to date: $bin"
	exit 0
fi

# The go.mod files must pin the versions the cache directory is named after.
check() { # dir module want
	local got
	got=$(cd "$tools/$1" && $GO list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$2")
	if [[ $got != "$3" ]]; then
		echo "testenv: $1/go.mod has $2 $got, versions.env wants $3" >&2
		exit 1
	fi
}
check k8s k8s.io/kubernetes "$K8S_VERSION"
check k8s k8s.io/api "v0.${K8S_VERSION#v1.}" # staging modules: v1.X.Y <-> v0.X.Y
check etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"

tmp="$bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

build() { # module-dir ldflags name
	local start=$SECONDS
	echo "testenv: building $3 ..."
	(cd "$tools/$1" && $GO build -ldflags "$2" -o "$tmp/$3" "./cmd/$3")
	echo "testenv: built $3 in $((SECONDS - start))s"
}
build etcd "$lde" etcd
for b in kube-apiserver kube-controller-manager kubectl kube-proxy; do
	build k8s "$ldk" "$b"
done

# Swap in file by file (rename is atomic): tests running off the old
# binaries keep working and never find the directory missing. The stamp goes
# first and comes back last, so an interrupted swap means a rebuild next time.
mkdir -p "$bin"
rm -f "$bin/.stamp"
for b in "${binaries[@]}"; do mv -f "$tmp/$b" "$bin/$b"; done
echo "$stamp" >"$bin/.stamp"
echo "testenv: ready: $bin"
