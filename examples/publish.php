<?php

// Publishes a few messages through mqtt-broadcast and prints the connection's status.
//
//   MQTT_HOST=127.0.0.1 MQTT_PORT=1883 php -d extension=target/release/libmqtt_broadcast.so examples/publish.php
//
// `./build.sh example` runs it against the built-in broker (Mqtt\Broker) and shows what arrived.

$client = new Mqtt\Client([
    'host' => getenv('MQTT_HOST') ?: '127.0.0.1',
    'port' => getenv('MQTT_PORT') ?: 1883,
    'qos' => 1,
]);

// publish() only enqueues: the extension's background runtime sends the message
// and tracks the broker's acknowledgement while the script goes on.
$client->publish('examples/greetings', 'hello from publish()');
$client->publish('examples/greetings', 'fire and forget, QoS 0', 0);

// publishSync() returns once the broker has the message: PUBACK for QoS 1,
// PUBCOMP for QoS 2. A retained message is handed to later subscribers too.
$client->publishSync('examples/sensors/temperature', '21.5', 2, true);
echo "publishSync: the broker acknowledged examples/sensors/temperature\n";

// Wait (at most 5 s) until everything queued is acknowledged.
echo 'flush: ', $client->flush(5.0) ? 'everything acknowledged' : 'still pending', "\n";

$status = $client->status();
printf(
    "status: %s to %s:%d as %s, %d published, %d acknowledged, %d queued, %d in flight\n",
    $status['state'],
    $status['host'],
    $status['port'],
    $status['client_id'],
    $status['published'],
    $status['acknowledged'],
    $status['queued'],
    $status['in_flight']
);
