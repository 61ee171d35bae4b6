<?php

// Publishes telemetry with publish() and an order with publishSync(), which
// returns only once the broker has the message, and tells apart everything
// that can go wrong.
//
//   MQTT_HOST=127.0.0.1 MQTT_PORT=1883 php -d extension=target/release/libmqtt_broadcast.so examples/publish-sync.php
//
// Optional: MQTT_TIMEOUT (seconds publishSync() waits for the acknowledgement,
// default 5) and MQTT_MAX_QUEUE (messages the connection holds before
// publish() throws, default 10000).
//
// Exit codes: 0 delivered, 2 bad configuration, 3 timeout, 4 queue full,
// 5 connection failed for good.

$timeout = (float) (getenv('MQTT_TIMEOUT') ?: 5.0);

try {
    $client = new Mqtt\Client([
        'host' => getenv('MQTT_HOST') ?: '127.0.0.1',
        'port' => getenv('MQTT_PORT') ?: 1883,
        'qos' => 1,
        'max_queue' => getenv('MQTT_MAX_QUEUE') ?: 10000,
        // Give up after 3 failed connection attempts in a row (about a second)
        // instead of retrying forever, so that an unreachable broker surfaces
        // as a ConnectionException.
        'reconnect' => ['max_retries' => 3],
    ]);

    // Telemetry: queued at once, sent in the background.
    foreach (['kitchen' => '21.5', 'garage' => '14.0', 'attic' => '25.25'] as $room => $celsius) {
        $client->publish("examples/telemetry/$room", $celsius);
    }

    // The order must not be lost: wait for the broker's PUBACK.
    $client->publishSync('examples/orders/created', json_encode(['order' => 1001, 'total' => 59.90]), qos: 1, timeout: $timeout);
    echo "delivered: the broker acknowledged examples/orders/created\n";
    exit(0);
} catch (Mqtt\ConfigException $e) {
    // An option is unknown, of the wrong type or out of range: a deployment problem, not a network one.
    fwrite(STDERR, "configuration error: {$e->getMessage()}\n");
    exit(2);
} catch (Mqtt\TimeoutException $e) {
    // Not acknowledged in time. The message stays queued and still goes out if
    // the broker answers before this process ends (bounded by flush_timeout).
    fwrite(STDERR, "not acknowledged within {$timeout} s: {$e->getMessage()}\n"
        . "the order stays queued; status: " . json_encode(array_intersect_key($client->status(), array_flip(['state', 'queued', 'in_flight', 'last_error']))) . "\n");
    exit(3);
} catch (Mqtt\QueueFullException $e) {
    // max_queue messages are waiting already: the broker has been unreachable
    // (or too slow) for a while. Back off, or raise max_queue.
    fwrite(STDERR, "queue full, message not accepted: {$e->getMessage()}\n");
    exit(4);
} catch (Mqtt\ConnectionException $e) {
    // The connection failed for good (reconnect.max_retries attempts in a row
    // failed; the message names the last error, status()['last_error'] keeps it) or was closed.
    fwrite(STDERR, "connection failed: {$e->getMessage()}\n");
    exit(5);
}
