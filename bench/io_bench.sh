#!/usr/bin/env bash
# Import+export time and peak memory of `graphsub optimize -O0` on a model
# with about 1 GiB of weights, against the cost of reading and writing the
# same bytes (cat, cp). Prints a small table; the model is made on first use.
#
# Usage: bench/io_bench.sh [SIZE_MIB]      (GRAPHSUB=path/to/graphsub to override)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gs=${GRAPHSUB:-$here/../build/cli/graphsub}
mib=${1:-1024}
dir=$here/models
model=$dir/io_${mib}mib.onnx
mkdir -p "$dir"
[ -x "$gs" ] || { echo "io_bench: $gs not found: build first (meson compile -C build)" >&2; exit 2; }
[ -f "$model" ] || /usr/bin/python3 "$here/io_make_model.py" "$model" "$mib" >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bytes=$(stat -c %s "$model")
sync

measure() {   # prints "seconds peak_kib" of a command
  /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -n 1
}

# Warm the page cache once so every row reads from memory.
cat "$model" > /dev/null
read -r t_cat m_cat < <(measure cat "$model")
read -r t_cp m_cp < <(measure cp "$model" "$out/copy.onnx")
rm -f "$out/copy.onnx"
read -r t_gs m_gs < <(measure "$gs" optimize -O0 --quiet "$model" -o "$out/rt.onnx")
cmp -s "$model" "$out/rt.onnx" && same=yes || same=no

mib_model=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
echo "model: $mib_model MiB ($bytes bytes); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-34s %10s %14s %16s\n' "command" "seconds" "peak RSS MiB" "peak / model"
row() { printf '%-34s %10s %14.0f %16.2f\n' "$1" "$2" "$(echo "$3 / 1024" | bc -l)" "$(echo "$3 * 1024 / $bytes" | bc -l)"; }
row "cat (read the bytes)" "$t_cat" "$m_cat"
row "cp (read and write the bytes)" "$t_cp" "$m_cp"
row "graphsub optimize -O0" "$t_gs" "$m_gs"
echo "round trip byte-identical: $same"
