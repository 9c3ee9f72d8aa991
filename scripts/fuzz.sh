#!/usr/bin/env bash
# Builds the wire-format fuzzer (tests/net/fuzz/frame_fuzz.cpp) with clang-14, libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer, from only the codec, framing, generated
# schema and common sources, and runs it for N seconds (default 60). Without flags each call
# explores anew (libFuzzer picks a random seed); scripts/test.sh passes -seed and -runs so CI
# is repeatable.
#   scripts/fuzz.sh [seconds] [extra libFuzzer flags...]
# Build dir: $MURMUR_FUZZ_BUILD (default <repo>/build-fuzz). Crashes land in <build>/crashes/.
set -euo pipefail
seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MURMUR_FUZZ_BUILD:-$root/build-fuzz}"
cxx="${CXX_FUZZ:-clang++-14}"
mkdir -p "$build/gen/net/schema" "$build/obj" "$build/corpus" "$build/crashes"

# Generated schema code, same command CMake runs.
capnp compile --src-prefix="$root" -oc++:"$build/gen" "$root/net/schema/murmur.capnp"

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -I"$root" -isystem "$build/gen" -DFMT_SHARED)
fuzz=(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
sources=(common/error.cpp net/codec.cpp net/rice_coding.cpp net/framing.cpp)
objs=()
for src in "${sources[@]}"; do
  obj="$build/obj/$(echo "$src" | tr / _).o"
  "$cxx" "${flags[@]}" "${fuzz[@]}" -c "$root/$src" -o "$obj"
  objs+=("$obj")
done
"$cxx" "${flags[@]}" "${fuzz[@]}" -w -c "$build/gen/net/schema/murmur.capnp.c++" \
  -o "$build/obj/murmur_capnp.o"
objs+=("$build/obj/murmur_capnp.o")
libs=(-lcapnp -lkj -lfmt -lpthread)

"$cxx" "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "$root/tests/net/fuzz/frame_fuzz.cpp" "${objs[@]}" \
  "${libs[@]}" -o "$build/frame_fuzz"
# Seeds: one framed and one raw payload per message kind, from the real encoder.
"$cxx" "${flags[@]}" -fsanitize=address,undefined "$root/tests/net/fuzz/make_seeds.cpp" "${objs[@]}" \
  "${libs[@]}" -o "$build/make_seeds"
ASAN_OPTIONS=detect_leaks=0 "$build/make_seeds" "$build/corpus"
# Inputs that once crashed the decoder (tests/net/fuzz/regressions/) run first, every time.
cp "$root"/tests/net/fuzz/regressions/* "$build/corpus/"

echo "fuzz.sh: running frame_fuzz for ${seconds}s (corpus $build/corpus)"
cd "$build/crashes"
exec "$build/frame_fuzz" -max_total_time="$seconds" -max_len=70000 -rss_limit_mb=2048 \
  -print_final_stats=1 "$@" "$build/corpus"
