<?php

declare(strict_types=1);

// The request bench/fpm.php measures, served by its PHP-FPM pool: the same work
// with or without one publish() on the worker's connection (opened on the
// worker's first request, reused by every later one), or, for the floor, the
// same QoS 0 PUBLISH written by pure PHP with fwrite() on the worker's
// persistent socket (pfsockopen: connected on its first request).
//
// Query: publish (0, 1 or php), qos, host, port, topic, n.

$payload = json_encode(['order' => (int) ($_GET['n'] ?? 0), 'status' => 'created', 'at' => microtime(true)], JSON_THROW_ON_ERROR);

switch ($_GET['publish'] ?? '0') {
    case '1':
        $mqtt = new Mqtt\Client(['host' => $_GET['host'], 'port' => (int) $_GET['port']], 'bench');
        $mqtt->publish($_GET['topic'], $payload, (int) $_GET['qos']);
        break;
    case 'php':
        $socket = pfsockopen($_GET['host'], (int) $_GET['port'], $errno, $error, 5.0);
        if ($socket === false) {
            throw new RuntimeException("pfsockopen: $error");
        }
        // Nothing written yet on this persistent socket: the worker's first request.
        if (ftell($socket) === 0) {
            $clientId = 'bench-fpm-' . getmypid();
            $connect = "\x00\x04MQTT\x04\x02\x00\x3c" . pack('n', strlen($clientId)) . $clientId;
            fwrite($socket, "\x10" . chr(strlen($connect)) . $connect);
            fread($socket, 4); // CONNACK
        }
        $publish = pack('n', strlen($_GET['topic'])) . $_GET['topic'] . $payload;
        if (strlen($publish) > 127) {
            throw new LengthException('the floor writes a one-byte remaining length');
        }
        fwrite($socket, "\x30" . chr(strlen($publish)) . $publish);
        break;
}

echo 'ok';
