<?php

declare(strict_types=1);

// The request bench/fpm.php measures, served by its PHP-FPM pool: the same work
// with or without one publish() on the worker's connection (opened on the
// worker's first request, reused by every later one), or, for the floor, the
// same PUBLISH written by pure PHP with fwrite() on the worker's persistent
// TCP_NODELAY socket (connected on its first request). At QoS 1 the floor first
// reads, without waiting, the PUBACKs that came since the worker's last request,
// which is where the extension reads them too.
//
// Query: publish (0, 1 or php), qos, host, port, topic, n.

$payload = json_encode(['order' => (int) ($_GET['n'] ?? 0), 'status' => 'created', 'at' => microtime(true)], JSON_THROW_ON_ERROR);

switch ($_GET['publish'] ?? '0') {
    case '1':
        $mqtt = new Mqtt\Client(['host' => $_GET['host'], 'port' => (int) $_GET['port']], 'bench');
        $mqtt->publish($_GET['topic'], $payload, (int) $_GET['qos']);
        break;
    case 'php':
        // Persistent like pfsockopen(), and with TCP_NODELAY as the extension's
        // socket and row 8's floor: each PUBLISH leaves at once, none waits
        // in the kernel for the broker's ACK of the one before (Nagle).
        $socket = stream_socket_client("tcp://{$_GET['host']}:{$_GET['port']}", $errno, $error, 5.0,
            STREAM_CLIENT_CONNECT | STREAM_CLIENT_PERSISTENT, stream_context_create(['socket' => ['tcp_nodelay' => true]]));
        if ($socket === false) {
            throw new RuntimeException("stream_socket_client: $error");
        }
        // Nothing written yet on this persistent socket: the worker's first request.
        if (ftell($socket) === 0) {
            $clientId = 'bench-fpm-' . getmypid();
            $connect = "\x00\x04MQTT\x04\x02\x00\x3c" . pack('n', strlen($clientId)) . $clientId;
            fwrite($socket, "\x10" . chr(strlen($connect)) . $connect);
            fread($socket, 4); // CONNACK
            stream_set_blocking($socket, false);
        }
        $qos = (int) $_GET['qos'];
        if ($qos === 1) {
            // PUBACKs, 4 bytes each, until an empty read.
            while (($acknowledgements = fread($socket, 8192)) !== '' && $acknowledgements !== false) {
            }
        }
        // Mosquitto keeps no record of a QoS 1 packet id it acknowledged, so
        // any id will do; a worker keeps no counter across requests.
        $packetId = $qos === 1 ? pack('n', mt_rand(1, 0xffff)) : '';
        $publish = pack('n', strlen($_GET['topic'])) . $_GET['topic'] . $packetId . $payload;
        if (strlen($publish) > 127) {
            throw new LengthException('the floor writes a one-byte remaining length');
        }
        fwrite($socket, chr(0x30 | $qos << 1) . chr(strlen($publish)) . $publish) === strlen($publish) + 2
            or throw new RuntimeException('the floor wrote part of its PUBLISH');
        break;
}

echo 'ok';
