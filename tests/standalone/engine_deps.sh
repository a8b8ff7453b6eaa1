#!/bin/sh
# Fails when the engine archive references a symbol of a library that
# belongs to the layers above it (docs/engine.md, "Layers"): hwloc, PAPI,
# inih, jansson, libcsv, SQLite.  Usage: engine_deps.sh NM LIBTB_ENGINE.A
nm=$1
lib=$2
undef=$("$nm" -u "$lib") || { echo "engine_deps: $nm -u $lib failed"; exit 1; }
# an archive that really holds the engine needs malloc; guards against a
# vacuous pass when nm reads nothing
if ! printf '%s\n' "$undef" | grep -Eq '^ *U malloc$'; then
    echo "engine_deps: no undefined malloc in $lib: is it the engine archive?"
    exit 1
fi
bad=$(printf '%s\n' "$undef" |
    grep -E '^ *U (hwloc_|PAPI_|ini_parse|ini_handler|json_|jansson_|csv_|sqlite3_)' | sort -u)
if [ -n "$bad" ]; then
    echo "engine_deps: $lib references outside libraries (hwloc, PAPI, inih, jansson, libcsv, SQLite):"
    printf '%s\n' "$bad"
    exit 1
fi
echo "engine_deps: $lib references none of hwloc, PAPI, inih, jansson, libcsv, SQLite"
