# Adds .cross_check to the tshark figures (input): what nginx's access log
# ($server) and the client ($client) counted in the same run, and whether every
# figure they share with the capture agrees.
def same($a; $b): $a == null or $a == $b;
(.per_connection | map(select(.requests > 0 and .resumed == true)) | length) as $resumed_used
| .totals as $t
| .cross_check = {
    server_log: $server,
    client: $client,
    agree: (
      ($server == null or
        ($server.requests == $t.requests
         and $server.connections == $t.connections_with_requests
         and $server.resumed_connections == $resumed_used))
      and ($client == null or
        (same($client.requests; $t.requests)
         and same($client.tcp_handshakes; $t.tcp_handshakes)
         and same($client.tls_handshakes_finished; $t.tls_handshakes_finished)
         and same($client.tls_resumed; $t.tls_resumed)
         and same($client.connections_with_requests; $t.connections_with_requests))))
  }
