<?php

/*
 * A TCP forwarder between MQTT clients and a broker that writes down every
 * packet each side sends, for what a broker does not show: the packets as they
 * are on the wire (topic aliases, the properties of a DISCONNECT).
 *
 *   php -n wire-tap.php BROKER_HOST BROKER_PORT PACKETS_FILE
 *
 * Listens on a free loopback port and prints "listening PORT". Each packet
 * becomes one JSON line of PACKETS_FILE: {"connection": n, "from": "client" or
 * "broker", "type": 1-15, "flags": 0-15, "body": base64 of what follows the
 * fixed header}. Bytes are forwarded as they come, whole packets or not.
 */

declare(strict_types=1);

[, $host, $port, $packetsFile] = $argv;

$server = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
if ($server === false) {
    fwrite(STDERR, "cannot listen: $error\n");
    exit(1);
}
$out = fopen($packetsFile, 'a');
echo 'listening ', parse_url('tcp://' . stream_socket_get_name($server, false), PHP_URL_PORT), "\n";

/** @var array<int, array{0: resource, 1: resource, 2: int, 3: string}> socket id => [from, to, connection, side] */
$routes = [];
/** @var array<int, string> socket id => bytes not yet a whole packet */
$pending = [];
$connections = 0;

/** Takes the whole packets off the front of $buffer: [type, flags, body] each. */
function packets(string &$buffer): array
{
    $packets = [];
    while (strlen($buffer) >= 2) {
        $length = 0;
        $multiplier = 1;
        $at = 1;
        do {
            if ($at >= strlen($buffer) || $at > 4) {
                return $packets;
            }
            $byte = ord($buffer[$at++]);
            $length += ($byte & 0x7F) * $multiplier;
            $multiplier *= 128;
        } while ($byte & 0x80);
        if (strlen($buffer) < $at + $length) {
            return $packets;
        }
        $packets[] = [ord($buffer[0]) >> 4, ord($buffer[0]) & 0x0F, substr($buffer, $at, $length)];
        $buffer = (string) substr($buffer, $at + $length);
    }
    return $packets;
}

while (true) {
    $read = [$server];
    foreach ($routes as [$from]) {
        $read[] = $from;
    }
    $write = $except = null;
    if (stream_select($read, $write, $except, null) === false) {
        exit(1);
    }
    foreach ($read as $socket) {
        if ($socket === $server) {
            $client = stream_socket_accept($server);
            $broker = $client === false ? false : stream_socket_client("tcp://$host:$port", $errno, $error, 5.0);
            if ($client === false || $broker === false) {
                $client && fclose($client);
                continue;
            }
            $connections++;
            $routes[(int) $client] = [$client, $broker, $connections, 'client'];
            $routes[(int) $broker] = [$broker, $client, $connections, 'broker'];
            $pending[(int) $client] = $pending[(int) $broker] = '';
            continue;
        }
        [$from, $to, $connection, $side] = $routes[(int) $socket];
        $bytes = fread($from, 65536);
        if ($bytes === '' || $bytes === false) {
            // One side ended its half: so does the tap towards the other, which
            // may still answer. Both halves ended: the connection is gone.
            unset($routes[(int) $from], $pending[(int) $from]);
            if (isset($routes[(int) $to])) {
                stream_socket_shutdown($to, STREAM_SHUT_WR);
            } else {
                fclose($from);
                fclose($to);
            }
            continue;
        }
        fwrite($to, $bytes);
        $pending[(int) $from] .= $bytes;
        foreach (packets($pending[(int) $from]) as [$type, $flags, $body]) {
            $line = ['connection' => $connection, 'from' => $side, 'type' => $type, 'flags' => $flags, 'body' => base64_encode($body)];
            fwrite($out, json_encode($line) . "\n");
        }
        fflush($out);
    }
}
