#!/usr/bin/env bash
# Streaming benchmark: earmark's /stream against nginx (sendfile) on the same 512 MiB file, on
# loopback, with the same load (wrk, random byte ranges); then a downloaded AAXC (an hour-long
# synthetic book, encrypted as Audible does) that earmark decrypts on the fly against nginx
# sending its encrypted bytes, and the time to a seek's first byte. Prints Markdown tables of
# the throughput ratios and earmark's peak memory. Tunables: BENCH_DURATION (s, default 30),
# BENCH_CONNECTIONS (default 64), BENCH_SIZE_MIB (default 512).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/target/bench-stream"
duration="${BENCH_DURATION:-30}"
connections="${BENCH_CONNECTIONS:-64}"
size_mib="${BENCH_SIZE_MIB:-512}"
size=$((size_mib * 1024 * 1024))
earmark_port=18081
nginx_port=18082
key="bench-key-$RANDOM$RANDOM"

missing=()
for tool in nginx wrk sqlite3; do command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]} from Debian's packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

cargo build --release --quiet --bin earmark --bin earmark-bench-aaxc --manifest-path "$root/Cargo.toml"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$work/data" "$work/tmp"
mkdir -p "$work/tmp" "$work/data"
data="$work/data"

# earmark first: it creates the data directory and its database.
EARMARK__DATA_DIR="$data" EARMARK__SERVER__BIND="127.0.0.1:$earmark_port" \
    EARMARK__AUTH__API_KEY="$key" RUST_LOG=warn "$root/target/release/earmark" >"$work/earmark.log" 2>&1 &
earmark_pid=$!
pids+=("$earmark_pid")
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$earmark_port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

file="$data/converted/bench.m4b"
if [ ! -f "$work/bench.m4b" ] || [ "$(stat -c %s "$work/bench.m4b")" != "$size" ]; then
    head -c "$size" /dev/urandom >"$work/bench.m4b"
fi
ln "$work/bench.m4b" "$file"
file_id="0190d4c4-0000-7000-8000-00000000b0b0"
now="2026-01-01T00:00:00.000000Z"
sqlite3 "$data/library/earmark.db" <<SQL
INSERT INTO books (asin, title, metadata_json, status, created_at, updated_at)
    VALUES ('B0BENCH001', 'Benchmark', '{}', 'COMPLETED', '$now', '$now');
INSERT INTO files (id, asin, kind, path, size, mime, created_at)
    VALUES ('$file_id', 'B0BENCH001', 'converted', '$file', $size, 'audio/mp4', '$now');
SQL

sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$nginx_port|g" -e "s|@ROOT@|$data/converted|g" \
    "$here/nginx.conf.template" >"$work/nginx.conf"
"$nginx_bin" -c "$work/nginx.conf" -p "$work"

cat "$file" >/dev/null   # both servers read from a warm page cache
curl -fs -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$earmark_port/stream/$file_id"
curl -fs -o /dev/null "http://127.0.0.1:$nginx_port/bench.m4b"

peak_rss_kib=0
sample_rss() {
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$earmark_pid/status")
    [ "$rss" -gt "$peak_rss_kib" ] && peak_rss_kib=$rss
    return 0
}

run() { # url chunk auth [file size] [connections] → "requests_per_second p99_ms non2xx"
    local url=$1 chunk=$2 auth=$3 of=${4:-$size} conns=${5:-$connections} out
    out=$(BENCH_SIZE=$of BENCH_CHUNK=$chunk BENCH_AUTH="$auth" \
        wrk -t"$((conns < 2 ? 1 : 2))" -c"$conns" -d"${duration}s" --latency -s "$here/ranges.lua" "$url" &
        wrk_pid=$!
        while kill -0 "$wrk_pid" 2>/dev/null; do
            awk '/^VmRSS/ {print "RSS", $2}' "/proc/$earmark_pid/status"
            sleep 0.5
        done
        wait "$wrk_pid")
    local rss
    for rss in $(awk '$1 == "RSS" {print $2}' <<<"$out"); do
        [ "$rss" -gt "$peak_rss_kib" ] && peak_rss_kib=$rss
    done
    awk '$1 == "RESULT" {
        split($2, r, "="); split($3, s, "="); split($4, e, "="); split($5, p, "=");
        printf "%.1f %s %s\n", r[2] / s[2], p[2], e[2] }' <<<"$out"
}

compare() { # nginx_url earmark_url file_size → a Markdown table, one row per range size
    local nginx_url=$1 earmark_url=$2 of=$3 chunk_kib chunk
    echo "| scenario | nginx req/s | earmark req/s | earmark / nginx | nginx p99 ms | earmark p99 ms |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for chunk_kib in 1024 64; do
        chunk=$((chunk_kib * 1024))
        read -r n_rps n_p99 n_err < <(run "$nginx_url" "$chunk" "" "$of")
        read -r e_rps e_p99 e_err < <(run "$earmark_url" "$chunk" "Bearer $key" "$of")
        if [ "$n_err" != 0 ] || [ "$e_err" != 0 ]; then
            echo "bench: non-2xx answers (nginx $n_err, earmark $e_err): the run is invalid" >&2
            exit 1
        fi
        ratio=$(awk -v e="$e_rps" -v n="$n_rps" 'BEGIN { printf "%.2f", e / n }')
        mib_n=$(awk -v r="$n_rps" -v c="$chunk" 'BEGIN { printf "%.0f", r * c / 1048576 }')
        mib_e=$(awk -v r="$e_rps" -v c="$chunk" 'BEGIN { printf "%.0f", r * c / 1048576 }')
        echo "| random ${chunk_kib} KiB ranges, ${connections} connections, ${duration} s | $n_rps ($mib_n MiB/s) | $e_rps ($mib_e MiB/s) | **$ratio** | $n_p99 | $e_p99 |"
    done
}

compare "http://127.0.0.1:$nginx_port/bench.m4b" "http://127.0.0.1:$earmark_port/stream/$file_id" "$size"
sample_rss
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$earmark_pid/status")
echo
echo "earmark RSS: peak sampled during the runs $((peak_rss_kib / 1024)) MiB; VmHWM (whole life) $((hwm / 1024)) MiB."

# A download played before conversion: earmark decrypts every range it sends.
aaxc_asin="B0BENCHAAX"
if [ ! -f "$work/aaxc/bench.aaxc" ]; then
    "$root/target/release/earmark-bench-aaxc" "$work/aaxc" "$aaxc_asin"
fi
aaxc_size=$(stat -c %s "$work/aaxc/bench.aaxc")
mkdir -p "$data/downloads/$aaxc_asin"
ln "$work/aaxc/bench.aaxc" "$data/downloads/$aaxc_asin/bench.aaxc"
ln "$work/aaxc/bench.voucher" "$data/downloads/$aaxc_asin/bench.voucher"
ln "$work/aaxc/bench.aaxc" "$data/converted/bench.aaxc"
aaxc_id="0190d4c4-0000-7000-8000-00000000aaaa"
sqlite3 "$data/library/earmark.db" <<SQL
INSERT INTO books (asin, title, metadata_json, status, created_at, updated_at)
    VALUES ('$aaxc_asin', 'Benchmark AAXC', '{}', 'DOWNLOADED', '$now', '$now');
INSERT INTO files (id, asin, kind, path, size, mime, created_at)
    VALUES ('$aaxc_id', '$aaxc_asin', 'aaxc', '$data/downloads/$aaxc_asin/bench.aaxc', $aaxc_size, 'audio/vnd.audible.aax', '$now');
INSERT INTO files (id, asin, kind, path, size, mime, created_at)
    VALUES ('0190d4c4-0000-7000-8000-00000000aaab', '$aaxc_asin', 'voucher', '$data/downloads/$aaxc_asin/bench.voucher', 100, 'application/json', '$now');
SQL
cat "$work/aaxc/bench.aaxc" >/dev/null
curl -fs -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$earmark_port/stream/$aaxc_id"

echo
echo "Decrypted on the fly: a $((aaxc_size / 1048576)) MiB AAXC, nginx sending its encrypted bytes, earmark the plain M4A."
echo
compare "http://127.0.0.1:$nginx_port/bench.aaxc" "http://127.0.0.1:$earmark_port/stream/$aaxc_id" "$aaxc_size"
# A seek: one player, a small range anywhere; its latency is the time to the first byte.
read -r s_rps s_p99 s_err < <(run "http://127.0.0.1:$earmark_port/stream/$aaxc_id" 4096 "Bearer $key" "$aaxc_size" 1)
[ "$s_err" = 0 ] || { echo "bench: non-2xx answers to seeks" >&2; exit 1; }
echo
echo "Seek to first byte (one connection, random 4 KiB ranges of the AAXC, ${duration} s): p99 **$s_p99 ms** ($s_rps requests/s)."
sample_rss
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$earmark_pid/status")
echo "earmark RSS after the decrypted runs $((peak_rss_kib / 1024)) MiB; VmHWM (whole life, both parts) $((hwm / 1024)) MiB."
