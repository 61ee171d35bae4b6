<?php

declare(strict_types=1);

// The request bench/fpm.php measures, served by its PHP-FPM pool: the same work
// with or without one publish() on the worker's connection (opened on the
// worker's first request, reused by every later one).
//
// Query: publish (0 or 1), qos, host, port, topic, n.

$payload = json_encode(['order' => (int) ($_GET['n'] ?? 0), 'status' => 'created', 'at' => microtime(true)], JSON_THROW_ON_ERROR);

if (($_GET['publish'] ?? '0') === '1') {
    $mqtt = new Mqtt\Client(['host' => $_GET['host'], 'port' => (int) $_GET['port']], 'bench');
    $mqtt->publish($_GET['topic'], $payload, (int) $_GET['qos']);
}

echo 'ok';
