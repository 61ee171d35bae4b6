<?php

// A long-running subscriber: prints every reading published to
// sensors/+/temperature until it gets SIGTERM (systemd, supervisord, docker stop)
// or SIGINT (Ctrl-C), then exits with code 0.
//
//   MQTT_HOST=127.0.0.1 MQTT_PORT=1883 php -d extension=target/release/libmqtt_broadcast.so examples/subscriber-daemon.php
//   mosquitto_pub -t sensors/kitchen/temperature -m 21.5     # in another terminal

$client = new Mqtt\Client([
    'host' => getenv('MQTT_HOST') ?: '127.0.0.1',
    'port' => getenv('MQTT_PORT') ?: 1883,
], 'sensors');

// One Subscriber can listen through several connections (brokers) at once:
// new Mqtt\Subscriber([$client, $otherClient]); Message::$broker says which one.
$subscriber = new Mqtt\Subscriber([$client]);
$subscriber->subscribe('sensors/+/temperature', qos: 1);

// The handler only asks the loop to stop. loop() wakes at least every 100 ms
// so that PHP runs it promptly, finishes the message in hand and returns.
pcntl_async_signals(true);
pcntl_signal(SIGTERM, fn () => $subscriber->stop());
pcntl_signal(SIGINT, fn () => $subscriber->stop());

echo "subscribed to sensors/+/temperature, waiting for messages (SIGTERM or Ctrl-C stops)\n";

$handled = $subscriber->loop(function (Mqtt\Message $message): void {
    printf(
        "%s  %s = %s (via %s, QoS %d%s)\n",
        date('H:i:s', (int) $message->receivedAt),
        $message->topic,
        $message->payload,
        $message->broker,
        $message->qos,
        $message->retain ? ', retained' : ''
    );
});

echo "stopped after $handled message(s)\n";
