#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# libuccid exports exactly what its installed headers declare: every function
# a public header declares is in `nm -D`, and every symbol `nm -D` lists is
# declared in one (the rest of the tree is built -fvisibility=hidden).  The
# headers are the ones `make install` installs (UCCID_PUBLIC_HEADERS, from
# the Makefile); their declarations are read by the compiler (-aux-info).
set -u
top_builddir=${top_builddir:?}
srcdir=$(cd "${top_srcdir:?}" && pwd)     # as the compiler will name the headers
so=$top_builddir/.libs/libuccid.so
if [ ! -f "$so" ]; then
	echo "SKIP: no shared libuccid in this build (--disable-shared)"
	exit 77
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
: "${UCCID_PUBLIC_HEADERS:?the Makefile names the installed headers}"
for h in $UCCID_PUBLIC_HEADERS; do
	echo "#include \"$h\""
done > "$tmp/all.c"
${CC:-cc} -std=c11 -I"$srcdir" -I"$top_builddir" -aux-info "$tmp/aux" -c "$tmp/all.c" -o "$tmp/all.o" || {
	echo "FAIL: the public headers do not compile on their own"; exit 1; }
# "/* /src/ccid/atr.h:180:NC */ extern int ccid_atr_parse (...);" -> ccid_atr_parse,
# only for declarations in the public headers (not libc's), and not static inline ones
for h in $UCCID_PUBLIC_HEADERS; do
	grep -F "$srcdir/$h:" "$tmp/aux"
done | grep ' extern ' | sed -n 's/.*[ *]\([A-Za-z_][A-Za-z0-9_]*\) (.*/\1/p' | sort -u > "$tmp/declared"
nm -D --defined-only "$so" | awk '$2 ~ /^[TDRBW]$/ { print $3 }' | grep -v '^_' | sort -u > "$tmp/exported"
n_decl=$(wc -l < "$tmp/declared") n_exp=$(wc -l < "$tmp/exported")
fail=0
comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/extra"
comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/missing"
if [ -s "$tmp/extra" ]; then
	echo "FAIL: exported but declared in no installed header:"; sed 's/^/  /' "$tmp/extra"; fail=1
fi
if [ -s "$tmp/missing" ]; then
	echo "FAIL: declared in an installed header but not exported:"; sed 's/^/  /' "$tmp/missing"; fail=1
fi
[ "$n_decl" -gt 50 ] || { echo "FAIL: only $n_decl declarations read from the headers"; fail=1; }
[ $fail -eq 0 ] && echo "ok: libuccid exports $n_exp symbols, the $n_decl functions its installed headers declare"
exit $fail
