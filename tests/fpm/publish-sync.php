<?php

declare(strict_types=1);

// Served by FpmTest's PHP-FPM pool. One publishSync() with a timeout; reports
// how it ended instead of letting an exception fail the request, as JSON:
//   {"pid", "exception": class or null, "message", "elapsed": seconds, "timeout", "status"}
//
// Query: options (JSON of the Mqtt\Client options), name, topic, payload, qos, timeout.

$options = json_decode($_GET['options'] ?? '{}', true, 16, JSON_THROW_ON_ERROR);
$client = new Mqtt\Client($options, $_GET['name'] ?? 'fpm');
$timeout = (float) $_GET['timeout'];

$exception = null;
$message = null;
$start = hrtime(true);
try {
    $client->publishSync($_GET['topic'], $_GET['payload'], (int) ($_GET['qos'] ?? 1), null, $timeout);
} catch (Mqtt\MqttException $e) {
    $exception = $e::class;
    $message = $e->getMessage();
}
$elapsed = (hrtime(true) - $start) / 1e9;

echo json_encode([
    'pid' => getmypid(),
    'exception' => $exception,
    'message' => $message,
    'elapsed' => $elapsed,
    'timeout' => $timeout,
    'status' => $client->status(),
], JSON_THROW_ON_ERROR);
