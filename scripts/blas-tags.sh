#!/bin/sh
# Prints the Go build tags for the BLAS backend this machine can build, and
# installs OpenBLAS first when it is missing and we are root on Debian.
# Messages go to stderr; stdout holds only the tags ("openblas" or nothing).
set -u
probe() {
	tmp=$(mktemp -d)
	printf '#include <cblas.h>\nint main(void){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1,&a,1,&b,1,0,&c,1);return c!=1;}\n' >"$tmp/p.c"
	ok=1
	${CC:-gcc} "$tmp/p.c" -o "$tmp/p" -lopenblas >/dev/null 2>&1 && "$tmp/p" && ok=0
	rm -rf "$tmp"
	return $ok
}
if [ "${KILN_BLAS:-}" = "go" ]; then
	echo "blas: KILN_BLAS=go, building the pure-Go backend" >&2
	exit 0
fi
if ! probe; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "blas: OpenBLAS missing; installing libopenblas-dev with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null 2>&1; }
	fi
fi
if probe; then
	echo "blas: OpenBLAS found, building with -tags openblas" >&2
	echo openblas
else
	echo "blas: OpenBLAS not available (not root on Debian, or no gcc); building the pure-Go backend" >&2
fi
