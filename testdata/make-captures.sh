#!/usr/bin/env bash
# Regenerates the real-client captures in testdata/captures/ and then their
# expected figures (testdata/expected.sh).
#
# Run as root on Debian 12 (it installs its tools with apt-get when missing):
#     bash testdata/make-captures.sh            # or: just captures
#
# It starts a private nginx on 127.0.0.1 (own prefix and config in a temp dir,
# self-signed certificate from openssl), then for each scenario captures lo with
# tcpdump (full snaplen, filtered to the scenario's server port) while one real
# client (Go net/http from testdata/goclient, curl, nghttp or openssl s_client) talks to it, and writes
# beside each capture:
#     NAME.keys         the client's TLS key log (NSS format), when TLS is used
#     NAME.client.txt   what the client itself reported (Go summary, curl -v/-w, nghttp -v)
#     NAME.server.txt   nginx's access log lines for the scenario
# Every run makes new keys, ports and timestamps: captures and expected figures
# are regenerated together and committed together.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/captures
NAME_ONLY=${1:-}   # optional: regenerate just this scenario

# The servers, all on 127.0.0.1 (see testdata/README.md).
P_TLS12=18442      # TLS 1.2 only, ALPN h2 + http/1.1, session tickets + session ID cache
P_TLS13=18443      # TLS 1.3 only, ALPN h2 + http/1.1
P_H1=18080         # cleartext HTTP/1.1, keepalive_timeout 75s (nginx default)
P_H2C=18081        # cleartext HTTP/2 by prior knowledge only (nginx 1.22: `listen ... http2`)
P_IDLE=18082       # cleartext HTTP/1.1, keepalive_timeout 1s
P_EARLY=18444      # TLS 1.3 only, 0-RTT early data accepted (ssl_early_data on)
P_NO_EARLY=18445   # TLS 1.3 only, same session ticket key as P_EARLY, early data off:
                   # resumes P_EARLY's sessions and rejects their 0-RTT data
HOST=connreuse.test  # name used in URLs, SNI and Host; always dialled at 127.0.0.1

die() { echo "make-captures: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (tcpdump on lo, apt-get)"

install_tools() {
	local missing=()
	for t in nginx tcpdump go curl nghttp tshark editcap openssl jq; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[ ${#missing[@]} = 0 ] && return
	echo "make-captures: installing (missing: ${missing[*]})" >&2
	# Wait for any apt run already holding the dpkg lock instead of failing.
	apt-get -o DPkg::Lock::Timeout=1800 update
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1800 install -y \
		nginx tcpdump golang-go curl nghttp2-client tshark openssl jq
}
install_tools

WORK=$(mktemp -d /tmp/connreuse-captures.XXXXXX)
chmod 0755 "$WORK"   # nginx workers run as nobody and read the html from here
NGINX_PID=
TCPDUMP_PID=
cleanup() {
	[ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- certificate -------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$HOST" \
	-addext "subjectAltName=DNS:$HOST,IP:127.0.0.1" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
# One session ticket key for P_EARLY and P_NO_EARLY (80 bytes: nginx's AES-256 form).
openssl rand 80 >"$WORK/ticket.key"

# --- static files: small fixed bodies -----------------------------------------
mkdir -p "$WORK/html" "$WORK/logs"
body() { # name size: deterministic text of exactly size bytes
	local line="connreuse test body $1: the quick brown fox jumps over the lazy dog."
	local s=""
	while [ ${#s} -lt "$2" ]; do s+="$line"$'\n'; done
	printf '%s' "${s:0:$2}" >"$WORK/html/$1"
}
body index.html 400
body a.html 200
body b.html 300
body c.html 250
chmod -R a+rX "$WORK/html"

# --- nginx ---------------------------------------------------------------------
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log notice;
events { worker_connections 512; }
http {
    types { text/html html; }
    default_type text/plain;
    log_format conn '\$server_port \$remote_addr:\$remote_port conn=\$connection '
                    'n=\$connection_requests "\$request" \$status \$body_bytes_sent '
                    'tls=\$ssl_protocol cipher=\$ssl_cipher reused=\$ssl_session_reused '
                    'alpn=\$ssl_alpn_protocol';
    log_format conn_early '\$server_port \$remote_addr:\$remote_port conn=\$connection '
                    'n=\$connection_requests "\$request" \$status \$body_bytes_sent '
                    'tls=\$ssl_protocol cipher=\$ssl_cipher reused=\$ssl_session_reused '
                    'alpn=\$ssl_alpn_protocol early=\$ssl_early_data';
    access_log $WORK/logs/access.log conn;
    client_body_temp_path $WORK/tmp_body;
    proxy_temp_path $WORK/tmp_proxy;
    fastcgi_temp_path $WORK/tmp_fastcgi;
    uwsgi_temp_path $WORK/tmp_uwsgi;
    scgi_temp_path $WORK/tmp_scgi;
    root $WORK/html;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_session_cache shared:SSL:1m;

    server { listen 127.0.0.1:$P_TLS12 ssl http2; server_name $HOST; ssl_protocols TLSv1.2; }
    server { listen 127.0.0.1:$P_TLS13 ssl http2; server_name $HOST; ssl_protocols TLSv1.3; }
    server { listen 127.0.0.1:$P_H1; server_name $HOST; }
    server { listen 127.0.0.1:$P_H2C http2; server_name $HOST; }
    server { listen 127.0.0.1:$P_IDLE; server_name $HOST; keepalive_timeout 1s; }
    server { listen 127.0.0.1:$P_EARLY ssl; server_name $HOST; ssl_protocols TLSv1.3;
             ssl_early_data on; ssl_session_ticket_key $WORK/ticket.key;
             access_log $WORK/logs/access.log conn_early; }
    server { listen 127.0.0.1:$P_NO_EARLY ssl; server_name $HOST; ssl_protocols TLSv1.3;
             ssl_session_ticket_key $WORK/ticket.key;
             access_log $WORK/logs/access.log conn_early; }
}
EOF
nginx -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log"
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" &
NGINX_PID=$!
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$P_H1/index.html" && break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$P_H1/index.html" || die "nginx did not start: $(cat "$WORK/logs/error.log")"

# --- Go client (standard library only, offline) --------------------------------
(
	cd "$HERE/goclient"
	GOCACHE=$WORK/gocache GOPATH=$WORK/gopath GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
		go build -trimpath -o "$WORK/goclient" .
)
GO_VERSION=$(go version)
CURL_VERSION=$(curl --version | head -1)
NGINX_VERSION=$(nginx -v 2>&1)

# --- one capture -----------------------------------------------------------------
# capture NAME FORMAT PORT [PORT...] -- COMMAND...
#   FORMAT: pcap | pcap-nano | pcapng | pcapng-nano | pcapng-dsb | pcap-gz
# COMMAND runs with KEYS (key log path) exported and SSLKEYLOGFILE=$KEYS; its
# stdout+stderr go to NAME.client.txt.
capture() {
	local name=$1 format=$2
	shift 2
	local ports=()
	while [ "$1" != -- ]; do ports+=("$1"); shift; done
	shift
	if [ -n "$NAME_ONLY" ] && [ "$NAME_ONLY" != "$name" ]; then return; fi
	echo "make-captures: $name" >&2

	local filter="tcp and (port ${ports[0]}" p
	for p in "${ports[@]:1}"; do filter+=" or port $p"; done
	filter+=")"
	local precision=micro
	case $format in *nano) precision=nano ;; esac

	rm -f "$OUT/$name".*
	export KEYS=$WORK/$name.keys
	rm -f "$KEYS"
	local raw=$WORK/$name.pcap log=$WORK/$name.tcpdump.txt
	local log_before
	log_before=$(wc -l <"$WORK/logs/access.log")

	: >"$log"
	tcpdump -i lo -s 0 -U -Z root --time-stamp-precision="$precision" -w "$raw" "$filter" 2>"$log" &
	TCPDUMP_PID=$!
	for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.05; done
	grep -q 'listening on' "$log" || die "$name: tcpdump did not start: $(cat "$log")"
	sleep 0.3

	{
		echo "# $*"
		SSLKEYLOGFILE=$KEYS "$@" 2>&1
	} >"$OUT/$name.client.txt" || die "$name: client failed, see $OUT/$name.client.txt"

	sleep 1.5   # let the FIN/RST exchanges after the client's exit reach the capture
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" || true
	TCPDUMP_PID=
	grep -q '^0 packets dropped by kernel' "$log" || die "$name: tcpdump dropped packets: $(cat "$log")"

	tail -n +"$((log_before + 1))" "$WORK/logs/access.log" >"$OUT/$name.server.txt"

	case $format in
	pcap | pcap-nano) cp "$raw" "$OUT/$name.pcap" ;;
	pcapng | pcapng-nano) editcap -F pcapng "$raw" "$OUT/$name.pcapng" ;;
	pcapng-dsb) editcap -F pcapng --inject-secrets "tls,$KEYS" "$raw" "$OUT/$name.pcapng" ;;
	pcap-gz) gzip -n -9 -c "$raw" >"$OUT/$name.pcap.gz" ;;
	*) die "unknown format $format" ;;
	esac
	# The key log goes beside the capture, except where it is embedded (DSB).
	if [ -s "$KEYS" ] && [ "$format" != pcapng-dsb ]; then cp "$KEYS" "$OUT/$name.keys"; fi
}

goclient() { "$WORK/goclient" -cacert "$WORK/cert.pem" -keylog "$KEYS" -connect 127.0.0.1 "$@"; }

# curl_get [OPTION...] URL... : one curl run, every URL fetched in turn (on one connection if it
# can be reused), bodies discarded, -v trace and one -w line per transfer.
curl_get() {
	local args=() u
	while [ $# -gt 0 ] && [ "${1#http}" = "$1" ]; do args+=("$1"); shift; done
	for u in "$@"; do args+=(-o /dev/null "$u"); done
	curl -sS -v --cacert "$WORK/cert.pem" \
		--resolve "$HOST:$P_TLS12:127.0.0.1" --resolve "$HOST:$P_TLS13:127.0.0.1" \
		--resolve "$HOST:$P_H2C:127.0.0.1" \
		-w 'transfer %{url_effective} status=%{http_code} http=%{http_version} new_connections=%{num_connects} local_port=%{local_port}\n' \
		"${args[@]}"
}

mkdir -p "$OUT"
if [ -z "$NAME_ONLY" ]; then
	# A full run replaces every generated file, so none of a dropped scenario stays.
	rm -f "$OUT"/*.pcap "$OUT"/*.pcapng "$OUT"/*.pcap.gz "$OUT"/*.keys "$OUT"/*.txt "$HERE"/expected/*.json
fi
T12=https://$HOST:$P_TLS12
T13=https://$HOST:$P_TLS13

# --- Go net/http -----------------------------------------------------------------
capture go-h2-sequential pcap $P_TLS13 -- \
	goclient -scenario go-h2-sequential -url "$T13/index.html" -n 100 -concurrency 1
# -timeout 0 -linger 2s: no http.Client.Timeout, so the dials that lost the race
# to the first HTTP/2 connection are not cancelled; they finish their TLS
# handshakes while the client lingers, and are never used.
capture go-h2-concurrent-tls12 pcap $P_TLS12 -- \
	goclient -scenario go-h2-concurrent-tls12 -url "$T12/index.html" -n 100 -concurrency 100 \
	-timeout 0 -linger 2s
capture go-h2-concurrent-tls13 pcapng $P_TLS13 -- \
	goclient -scenario go-h2-concurrent-tls13 -url "$T13/index.html" -n 100 -concurrency 100 \
	-timeout 0 -linger 2s
# With the default 30 s http.Client.Timeout, a finished request cancels the dial
# it started: those handshakes are abandoned midway (FIN, then RST).
capture go-h2-concurrent-cancelled pcap $P_TLS13 -- \
	goclient -scenario go-h2-concurrent-cancelled -url "$T13/index.html" -n 30 -concurrency 30 \
	-linger 2s
capture go-h1-drained pcap-nano $P_TLS13 -- \
	goclient -scenario go-h1-drained -url "$T13/index.html" -n 20 -http1
capture go-h1-undrained pcapng-nano $P_TLS13 -- \
	goclient -scenario go-h1-undrained -url "$T13/index.html" -n 20 -http1 -drain=false
capture go-plain-keepalive pcap $P_H1 -- \
	goclient -scenario go-plain-keepalive -url "http://$HOST:$P_H1/index.html" -n 20
capture go-plain-idle pcap-gz $P_IDLE -- \
	goclient -scenario go-plain-idle -url "http://$HOST:$P_IDLE/index.html" -n 3 -interval 2s
# One request per connection (DisableKeepAlives), the later connections resuming
# the TLS session: by session ticket in TLS 1.2 (Go does not resume by session
# ID), by PSK in TLS 1.3.
capture go-resume-tls12-ticket pcap $P_TLS12 -- \
	goclient -scenario go-resume-tls12-ticket -url "$T12/index.html" -n 3 -http1 -keepalive=false -resume
capture go-resume-tls13 pcapng $P_TLS13 -- \
	goclient -scenario go-resume-tls13 -url "$T13/index.html" -n 3 -keepalive=false -resume

# --- curl --------------------------------------------------------------------------
capture curl-h1-keepalive pcap $P_TLS12 -- \
	curl_get --http1.1 "$T12/a.html" "$T12/b.html" "$T12/c.html"
capture curl-h2-parallel pcapng $P_TLS13 -- \
	curl_get --http2 --parallel --parallel-immediate --parallel-max 6 \
	"$T13/index.html" "$T13/a.html" "$T13/b.html" "$T13/c.html" "$T13/a.html?2" "$T13/b.html?2"
# curl 7.88.1 cannot reuse a prior-knowledge connection (curl bug 10634, fixed in
# 8.0: the second transfer fails with "Error in the HTTP2 framing layer"), so
# each URL gets its own connection; nghttp-h2c shows several requests on one.
capture curl-h2c pcap $P_H2C -- \
	curl_get --http2-prior-knowledge --parallel --parallel-immediate \
	"http://$HOST:$P_H2C/a.html" "http://$HOST:$P_H2C/b.html" "http://$HOST:$P_H2C/c.html"
capture curl-resume-tls12 pcap $P_TLS12 -- \
	curl_get --http1.1 -H 'Connection: close' "$T12/a.html" "$T12/b.html"
capture curl-resume-tls13 pcapng $P_TLS13 -- \
	curl_get --http1.1 -H 'Connection: close' "$T13/a.html" "$T13/b.html"
capture curl-tls13-chacha20 pcapng-dsb $P_TLS13 -- \
	curl_get --http2 --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 \
	"$T13/a.html" "$T13/b.html" "$T13/c.html"
capture curl-tls13-aes256 pcap $P_TLS13 -- \
	curl_get --http2 --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384 \
	"$T13/a.html" "$T13/b.html" "$T13/c.html"
capture curl-tls12-chacha20 pcap $P_TLS12 -- \
	curl_get --http2 --ciphers ECDHE-RSA-CHACHA20-POLY1305 "$T12/a.html" "$T12/b.html"
capture curl-tls12-cbc pcap $P_TLS12 -- \
	curl_get --http1.1 --ciphers ECDHE-RSA-AES128-SHA256 "$T12/a.html" "$T12/b.html"

# --- openssl s_client: TLS 1.3 0-RTT ------------------------------------------------
# openssl_0rtt FIRST_PORT SECOND_PORT: a full handshake with P_EARLY sends the GET as
# ordinary data and saves the session (-sess_out; nginx's ticket allows 16384 bytes
# of early data); a second connection resumes it on SECOND_PORT and sends the same GET
# as 0-RTT data (-early_data), without waiting for the handshake. The request asks
# for Connection: close, so nginx closes each connection after its response.
openssl_0rtt() {
	local req=$WORK/early-request.txt session=$WORK/early-session.pem
	printf 'GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$HOST" >"$req"
	rm -f "$session"
	(cat "$req"; sleep 1) | openssl s_client -connect "127.0.0.1:$1" -servername "$HOST" \
		-tls1_3 -CAfile "$WORK/cert.pem" -keylogfile "$KEYS" -sess_out "$session" -quiet
	[ -s "$session" ] || { echo "openssl_0rtt: no session saved" >&2; return 1; }
	sleep 1 | openssl s_client -connect "127.0.0.1:$2" -servername "$HOST" \
		-tls1_3 -CAfile "$WORK/cert.pem" -keylogfile "$KEYS" -sess_in "$session" -early_data "$req"
}
# Accepted: nginx serves the early GET (early=1 in its log), s_client says "Early data
# was accepted". Rejected: P_NO_EARLY accepts the PSK (reused=r) but not the early
# data (RFC 8446 4.2.10: no early_data in EncryptedExtensions); s_client says "Early
# data was rejected" and does not send the request again, so nginx logs nothing for it.
capture openssl-0rtt-accepted pcap $P_EARLY -- openssl_0rtt $P_EARLY $P_EARLY
capture openssl-0rtt-rejected pcap $P_EARLY $P_NO_EARLY -- openssl_0rtt $P_EARLY $P_NO_EARLY

# --- nghttp (nghttp2's client): h2c by prior knowledge, three requests on one
# connection, with its PRIORITY frames on idle streams (no requests on those).
# nghttp has no --resolve, so its URLs name 127.0.0.1 itself.
capture nghttp-h2c pcap $P_H2C -- \
	nghttp -nv "http://127.0.0.1:$P_H2C/a.html" "http://127.0.0.1:$P_H2C/b.html" "http://127.0.0.1:$P_H2C/c.html"

cat >"$OUT/TOOLS.txt" <<EOF
$GO_VERSION
$CURL_VERSION
$(nghttp --version)
$NGINX_VERSION
$(tcpdump --version 2>&1 | head -2 | tr '\n' ' ')
$(tshark --version 2>/dev/null | head -1)
$(openssl version)
EOF

bash "$HERE/expected.sh" ${NAME_ONLY:+"$NAME_ONLY"}
