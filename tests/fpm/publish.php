<?php

declare(strict_types=1);

// Served by FpmTest's PHP-FPM pool and ZtsTest's threaded Apache. Publishes
// `count` messages on the worker's named connection and reports what the worker
// sees, as JSON:
//   {"pid": <worker pid>, "thread": <thread id>, "status": <status() after publishing>}
//
// Query: options (JSON of the Mqtt\Client options), name, topic, payload,
// qos, count (0: only report the status; >1: payloads get a "-<i>" suffix),
// mode (async: publish(), sync: publishSync()), hold_ms (keep the worker busy
// afterwards, so concurrent requests go to other workers).

$options = json_decode($_GET['options'] ?? '{}', true, 16, JSON_THROW_ON_ERROR);
$client = new Mqtt\Client($options, $_GET['name'] ?? 'fpm');

$count = (int) ($_GET['count'] ?? 1);
$qos = (int) ($_GET['qos'] ?? 1);
$sync = ($_GET['mode'] ?? 'async') === 'sync';
for ($i = 0; $i < $count; $i++) {
    $payload = $count === 1 ? $_GET['payload'] : "{$_GET['payload']}-$i";
    if ($sync) {
        $client->publishSync($_GET['topic'], $payload, $qos);
    } else {
        $client->publish($_GET['topic'], $payload, $qos);
    }
}
$status = $client->status();

usleep(1000 * (int) ($_GET['hold_ms'] ?? 0));

// "<pid>/task/<tid>": under a threaded server, several threads of one process serve requests.
$thread = (int) basename((string) readlink('/proc/thread-self'));

echo json_encode(['pid' => getmypid(), 'thread' => $thread, 'status' => $status], JSON_THROW_ON_ERROR);
