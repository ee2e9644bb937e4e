# Turns the two tshark outputs of expected.sh into testdata/expected/NAME.json.
# Inputs: $frames[0], tshark -T json -e ... (one object per frame, every field an
# array of all its occurrences in the frame); $h2[0], tshark -T json -J 'tcp http2'
# of the frames holding HTTP/2 header blocks; plus the --arg/--argjson values
# ($randoms: the client randoms found in the key log, or null without one).

def all($p; $k): $p._source.layers[$k] // [];
def one($p; $k): all($p; $k) | .[0];
def src($p): (one($p; "ip.src") // one($p; "ipv6.src")) as $a | {ip: $a, port: one($p; "tcp.srcport")};
def dst($p): (one($p; "ip.dst") // one($p; "ipv6.dst")) as $a | {ip: $a, port: one($p; "tcp.dstport")};
def addr: if .ip == null then null elif (.ip | contains(":")) then "[\(.ip)]:\(.port)" else "\(.ip):\(.port)" end;
def has_type($p; $t): all($p; "tls.handshake.type") | index($t) != null;
# The (type, length) pairs of every TLS extension in a frame, in order.
def exts($p): [all($p; "tls.handshake.extension.type"), all($p; "tls.handshake.extension.len")] | transpose;

def version_name:
  {"0x0304": "TLS 1.3", "0x0303": "TLS 1.2", "0x0302": "TLS 1.1", "0x0301": "TLS 1.0"}[.] // .;
# IANA names of the suites these servers can pick; anything else stays as its code.
def cipher_name:
  {"0x1301": "TLS_AES_128_GCM_SHA256",
   "0x1302": "TLS_AES_256_GCM_SHA384",
   "0x1303": "TLS_CHACHA20_POLY1305_SHA256",
   "0xc02f": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
   "0xc030": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
   "0xcca8": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
   "0xc027": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
   "0xc028": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"}[.] // .;

$frames[0] as $fr
# HTTP/2: every frame object (it has http2.streamid) with the :method / :status
# found in its header block; a request is a distinct (tcp.stream, stream id)
# pair with a :method, a response one with a :status.
| [ $h2[0][]
    | ._source.layers.tcp["tcp.stream"] as $s
    | ._source.layers.http2 | .. | objects | select(has("http2.streamid"))
    | {s: $s, id: .["http2.streamid"],
       method: ([.. | objects | .["http2.headers.method"]? // empty] | first),
       status: ([.. | objects | .["http2.headers.status"]? // empty] | first)} ] as $h2f
| ($h2f | map(select(.method != null) | {s, id}) | unique) as $h2req
| ($h2f | map(select(.status != null) | {s, id}) | unique) as $h2resp

| [ $fr | group_by(one(.; "tcp.stream") | tonumber)[]
    | . as $pk
    | (one($pk[0]; "tcp.stream")) as $stream
    # The client is the sender of the SYN without ACK; with no SYN in the
    # capture, the side that is not one of the test servers' ports.
    | ($pk | map(select(one(.; "tcp.flags.syn") == "1" and one(.; "tcp.flags.ack") == "0")) | first) as $syn
    | (if $syn != null then src($syn)
       elif ($server_ports | index(one($pk[0]; "tcp.srcport"))) != null then dst($pk[0])
       else src($pk[0]) end) as $client
    | ($pk | map(select(src(.) == $client))) as $cp
    | ($pk | map(select(src(.) != $client))) as $sp
    | ($cp | map(select(has_type(.; "1"))) | first) as $ch
    | ($sp | map(select(has_type(.; "2"))) | first) as $sh
    | (if $sh == null then null
       else (one($sh; "tls.handshake.extensions.supported_version")
             // one($sh; "tls.handshake.version")) | version_name end) as $version
    | (if $ch == null then null else one($ch; "tls.handshake.session_id") end) as $csid
    | (if $sh == null then null else one($sh; "tls.handshake.session_id") end) as $ssid
    | ([$sp[] | all(.; "tls.handshake.type")[]] | index("11") != null) as $cert
    | ([$sp[] | all(.; "tls.handshake.extensions.psk.identity.selected")[]] | length > 0) as $psk
    | (if $ch == null then null else one($ch; "tls.handshake.random") end) as $crandom
    # SessionTicket extension (type 35, RFC 5077 3.2) with a ticket in it.
    | (if $ch == null then false
       else [all($ch; "tls.handshake.extension.type"), all($ch; "tls.handshake.extension.len")]
            | transpose | any(.[0] == "35" and .[1] != "0") end) as $ticket
    | (if $crandom == null or $randoms == null then null
       else ($randoms | index($crandom) != null) end) as $keyed
    # A Finished message is encrypted: seen, it is there; unseen, it is known
    # absent only when the connection's keys are in the key log. (tshark also
    # decrypts a resumed TLS 1.2 session whose client logged no keys for it, from
    # the master secret of the connection that set the session up.)
    | ([$cp[] | all(.; "tls.handshake.type")[]] | index("20") != null) as $cfin
    | ([$sp[] | all(.; "tls.handshake.type")[]] | index("20") != null) as $sfin
    | {client: (if $cfin then true elif $keyed == true then false else null end),
       server: (if $sfin then true elif $keyed == true then false else null end)} as $fin
    # TLS 1.3 (RFC 8446 4.2.11): the ServerHello carries pre_shared_key.
    # TLS 1.2 (RFC 5246 7.4.1.3, RFC 5077 3.4): the ServerHello echoes the
    # client's non-empty session ID, and no Certificate follows.
    | (if $version == "TLS 1.3" then $psk
       elif $version == "TLS 1.2" then ($csid != null and $csid == $ssid)
       else null end) as $resumed
    | if $version == "TLS 1.2" and $resumed == $cert
      then error("stream \($stream): TLS 1.2 session ID echo and Certificate disagree") else . end
    # 0-RTT (RFC 8446 4.2.10): the ClientHello offers early_data (extension 42);
    # the server accepts it with an empty early_data in EncryptedExtensions
    # (visible only decrypted; a NewSessionTicket's early_data is 4 bytes long),
    # and rejects it by leaving that out or by selecting no PSK. tshark decrypts
    # and counts the HTTP/1.x requests of rejected early data too, though the
    # server never read them: those are the client frames before the ServerHello
    # frame, and they are not requests of the connection.
    | ($ch != null and (exts($ch) | any(.[0] == "42"))) as $early
    | ([$sp[] | select(has_type(.; "8"))] | length > 0) as $ee_seen
    | ([$sp[] | exts(.)[] | select(.[0] == "42" and .[1] == "0")] | length > 0) as $ee_early
    | (if $early | not then null
       elif $sh != null and ($version == "TLS 1.3") and ($psk | not) then false
       elif $ee_early then true
       elif $ee_seen then false
       else null end) as $early_accepted
    | (if $sh == null then [] else
         [$cp[] | select((one(.; "frame.number") | tonumber) < (one($sh; "frame.number") | tonumber))
          | all(.; "http.request.method")[]] end | length) as $early_h1
    | ([$cp[] | all(.; "http.request.method")[]] | length
       | if $early_accepted == false then . - $early_h1 else . end) as $h1req
    | ([$sp[] | all(.; "http.response.code")[]] | length) as $h1resp
    | ($h2req | map(select(.s == $stream)) | length) as $h2r
    | ($h2resp | map(select(.s == $stream)) | length) as $h2s
    | {stream: ($stream | tonumber),
       client: ($client | addr),
       server: ((if $syn != null then dst($syn) elif src($pk[0]) == $client then dst($pk[0]) else src($pk[0]) end) | addr),
       syn: ($syn != null),
       first_frame: (one($pk[0]; "frame.number") | tonumber),
       frames: ($pk | length),
       client_hellos: ([$cp[] | all(.; "tls.handshake.type")[] | select(. == "1")] | length),
       server_hellos: ([$sp[] | all(.; "tls.handshake.type")[] | select(. == "2")] | length),
       sni: (if $ch == null then null else one($ch; "tls.handshake.extensions_server_name") end),
       alpn_offered: (if $ch == null then null else all($ch; "tls.handshake.extensions_alpn_str") end),
       alpn: ([$sp[] | all(.; "tls.handshake.extensions_alpn_str")[]] | first),
       version: $version,
       cipher: (if $sh == null then null else one($sh; "tls.handshake.ciphersuite") | cipher_name end),
       client_random: $crandom,
       keys_logged: $keyed,
       client_finished: $fin.client,
       server_finished: $fin.server,
       resumed: $resumed,
       resumption: (if $resumed != true then null
                    elif $version == "TLS 1.3" then "psk"
                    elif $ticket then "ticket" else "session_id" end),
       http1_requests: $h1req,
       http2_requests: $h2r,
       requests: ($h1req + $h2r),
       responses: ($h1resp + $h2s)}
      + (if $early then {early_data: {accepted: $early_accepted, early_http1_requests: $early_h1}}
         else {} end) ] as $conns

| {capture: $capture,
   keylog: $keylog,
   keys_embedded: $embedded,
   tshark: $tshark,
   totals: {
     tcp_connections: ($conns | length),
     tcp_handshakes: ($conns | map(select(.syn)) | length),
     tls_client_hellos: ($fr | map(select(has_type(.; "1"))) | length),
     tls_server_hellos: ($fr | map(select(has_type(.; "2"))) | length),
     tls_completed_by_keylog: (if $randoms == null then null else $randoms | length end),
     tls_handshakes_finished: ($conns | map(select(.client_finished == true and .server_finished == true)) | length),
     tls_resumed: ($conns | map(select(.resumed == true)) | length),
     http1_requests: ($conns | map(.http1_requests) | add // 0),
     http2_requests: ($conns | map(.http2_requests) | add // 0),
     requests: ($conns | map(.requests) | add // 0),
     responses: ($conns | map(.responses) | add // 0),
     connections_with_requests: ($conns | map(select(.requests > 0)) | length)
   },
   per_connection: $conns}
